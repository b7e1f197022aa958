#include "engine/vmi_controller.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "api/conditions.h"
#include "api/json.h"
#include "base/log.h"
#include "engine/resources.h"

namespace engine {
namespace {

// libvirt's virDomainShutoffReason values (libvirt-domain.h), kept here so
// that this file needs no libvirt header.
constexpr int kShutoffShutdown = 1;   // VIR_DOMAIN_SHUTOFF_SHUTDOWN: the guest powered off
constexpr int kShutoffDestroyed = 2;  // VIR_DOMAIN_SHUTOFF_DESTROYED
constexpr int kShutoffCrashed = 3;    // VIR_DOMAIN_SHUTOFF_CRASHED
constexpr int kShutoffFailed = 6;     // VIR_DOMAIN_SHUTOFF_FAILED

std::string JsonString(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return buf.GetString();
}

bool Transient(base::Code code) {
  return code == base::Code::kUnavailable || code == base::Code::kDeadlineExceeded ||
         code == base::Code::kAborted;
}

bool MigrationActive(const api::VMI& vmi) {
  const auto& m = vmi.status.migration_state;
  return m && !m->migration_uid.empty() && !m->completed;
}

bool HasFinalizer(const api::VMI& vmi) {
  const auto& f = vmi.meta.finalizers;
  return std::find(f.begin(), f.end(), kVMIFinalizer) != f.end();
}

std::string FinalizersPatch(const std::vector<std::string>& finalizers,
                            const std::string& resource_version) {
  std::string list;
  for (const std::string& f : finalizers) list += (list.empty() ? "" : ",") + JsonString(f);
  return R"({"metadata":{"finalizers":[)" + list +
         "],\"resourceVersion\":" + JsonString(resource_version) + "}}";
}

bool SameStatus(const api::VMIStatus& a, const api::VMIStatus& b) {
  return a.phase == b.phase && a.node_name == b.node_name &&
         a.migration_method == b.migration_method && a.conditions == b.conditions;
}

}  // namespace

struct VMIController::Work {
  std::string key;
  api::VMI vmi;  // our copy: the cached object is never mutated
  std::string domain;
  EventObject event_object;
  std::string now;  // RFC 3339, for condition transitions
};

VMIController::VMIController(Deps deps, VMIControllerSettings settings)
    : deps_(std::move(deps)), settings_(std::move(settings)) {}

std::optional<std::string> VMIController::KeyForDomainEvent(const DomainEvent& event) {
  if (event.kind != DomainEvent::Kind::kLifecycle || event.domain.empty()) return std::nullopt;
  auto ref = ParseDomainName(event.domain);
  if (!ref.ok()) return std::nullopt;
  return ref->namespace_ + "/" + ref->name;
}

base::Status VMIController::Reconcile(const std::string& key) {
  kube::ObjectPtr obj = deps_.vmis->Get(key);
  if (obj == nullptr || obj->doc == nullptr) return base::Status::Ok();  // gone
  auto parsed = api::ParseVMI(*obj->doc);
  if (!parsed.ok()) {
    // Retrying cannot fix the object; a new version comes as a new event.
    base::log::Warning("VMI cannot be read", {{"vmi", key}, {"error", parsed.status()}});
    return base::Status::Ok();
  }
  Work w;
  w.key = key;
  w.vmi = *std::move(parsed);
  const std::string& node = settings_.node_name;
  const auto& sel = w.vmi.spec.node_selector;
  auto host = sel.find(std::string(kLabelHostname));
  const bool ours = w.vmi.status.node_name == node ||
                    (w.vmi.status.node_name.empty() && host != sel.end() && host->second == node);
  if (!ours) return base::Status::Ok();
  if (MigrationActive(w.vmi)) {
    if (base::log::V(2)) {
      base::log::Debug(2, "VMI is migrating: left to the migration controller", {{"vmi", key}});
    }
    return base::Status::Ok();
  }
  auto domain = DomainName(w.vmi.meta.namespace_, w.vmi.meta.name);
  if (!domain.ok()) {
    base::log::Warning("VMI has no valid domain name", {{"vmi", key}, {"error", domain.status()}});
    return base::Status::Ok();
  }
  w.domain = *domain;
  w.event_object = EventObject{"kubevirt.io/v1", "VirtualMachineInstance", w.vmi.meta.namespace_,
                               w.vmi.meta.name, w.vmi.meta.uid};
  w.now = base::FormatRfc3339(deps_.clock->WallNow());

  if (w.vmi.meta.deletion_timestamp) {
    return HasFinalizer(w.vmi) ? Delete(w) : base::Status::Ok();
  }
  if (w.vmi.IsFinal()) return base::Status::Ok();
  if (base::Status s = EnsureFinalizer(w); !s.ok()) return s;
  const std::string& phase = w.vmi.status.phase;
  if (phase.empty() || phase == api::kVMIPending || phase == api::kVMIScheduling ||
      phase == api::kVMIScheduled) {
    return Start(w);
  }
  if (phase == api::kVMIRunning) return Observe(w);
  base::log::Warning("VMI has a phase this controller does not handle",
                     {{"vmi", key}, {"phase", phase}});
  return base::Status::Ok();
}

base::Status VMIController::Delete(Work& w) {
  base::Status s = deps_.hv->Stop(w.domain);
  if (!s.ok() && s.code() != base::Code::kNotFound) {
    base::log::Warning("cannot stop the domain of a deleted VMI",
                       {{"vmi", w.key}, {"domain", w.domain}, {"error", s}});
    return s;
  }
  s = deps_.hv->Undefine(w.domain);
  if (!s.ok() && s.code() != base::Code::kNotFound) {
    base::log::Warning("cannot undefine the domain of a deleted VMI",
                       {{"vmi", w.key}, {"domain", w.domain}, {"error", s}});
    return s;
  }
  s = deps_.files->Remove(w.vmi.meta.namespace_, w.vmi.meta.name);
  if (!s.ok()) {
    base::log::Warning("cannot remove the files of a deleted VMI", {{"vmi", w.key}, {"error", s}});
    return s;
  }
  std::vector<std::string> rest;
  for (const std::string& f : w.vmi.meta.finalizers) {
    if (f != kVMIFinalizer) rest.push_back(f);
  }
  kube::PatchOptions opts;
  auto r = deps_.api->Patch(kVMIs, w.vmi.meta.namespace_, w.vmi.meta.name, kube::PatchType::kMerge,
                            FinalizersPatch(rest, w.vmi.meta.resource_version), opts);
  if (!r.ok() && r.status().code() != base::Code::kNotFound) {
    base::log::Warning("cannot remove the VMI's finalizer",
                       {{"vmi", w.key}, {"error", r.status()}});
    return r.status();
  }
  base::log::Info("VMI stopped and cleaned up", {{"vmi", w.key}, {"domain", w.domain}});
  deps_.events->Normal(w.event_object, "Stopped", "domain " + w.domain + " stopped and removed");
  return base::Status::Ok();
}

base::Status VMIController::EnsureFinalizer(Work& w) {
  if (HasFinalizer(w.vmi)) return base::Status::Ok();
  std::vector<std::string> finalizers = w.vmi.meta.finalizers;
  finalizers.push_back(std::string(kVMIFinalizer));
  kube::PatchOptions opts;
  auto r = deps_.api->Patch(kVMIs, w.vmi.meta.namespace_, w.vmi.meta.name, kube::PatchType::kMerge,
                            FinalizersPatch(finalizers, w.vmi.meta.resource_version), opts);
  if (!r.ok()) {
    base::log::Warning("cannot add the VMI's finalizer", {{"vmi", w.key}, {"error", r.status()}});
    return r.status();
  }
  w.vmi.meta.finalizers = std::move(finalizers);
  w.vmi.meta.resource_version = r->resource_version;
  return base::Status::Ok();
}

base::Status VMIController::PatchStatus(Work& w, const api::VMIStatus& desired) {
  if (SameStatus(desired, w.vmi.status)) return base::Status::Ok();
  // Only fields the VMI CRD declares (manifests/crds/virtualmachineinstances.yaml).
  std::string conditions;
  for (const api::Condition& c : desired.conditions) {
    conditions += (conditions.empty() ? "" : ",") + api::ConditionToJson(c);
  }
  std::string body = R"({"metadata":{"resourceVersion":)" +
                     JsonString(w.vmi.meta.resource_version) + R"(},"status":{"phase":)" +
                     JsonString(desired.phase) + R"(,"nodeName":)" + JsonString(desired.node_name) +
                     R"(,"conditions":[)" + conditions + "]";
  // The CRD's enum admits only the two methods; null removes the field.
  body += R"(,"migrationMethod":)" + (desired.migration_method.empty()
                                          ? std::string("null")
                                          : JsonString(desired.migration_method));
  body += "}}";
  kube::PatchOptions opts;
  opts.subresource = "status";
  auto r = deps_.api->Patch(kVMIs, w.vmi.meta.namespace_, w.vmi.meta.name, kube::PatchType::kMerge,
                            body, opts);
  if (!r.ok()) {
    base::log::Warning("cannot write the VMI's status", {{"vmi", w.key}, {"error", r.status()}});
    return r.status();
  }
  if (desired.phase != w.vmi.status.phase) {
    base::log::Info("VMI phase changed",
                    {{"vmi", w.key}, {"from", w.vmi.status.phase}, {"to", desired.phase}});
  }
  w.vmi.status.phase = desired.phase;
  w.vmi.status.node_name = desired.node_name;
  w.vmi.status.conditions = desired.conditions;
  w.vmi.status.migration_method = desired.migration_method;
  w.vmi.meta.resource_version = r->resource_version;
  return base::Status::Ok();
}

base::Status VMIController::Fail(Work& w, std::string reason, std::string message) {
  api::VMIStatus desired = w.vmi.status;
  desired.phase = std::string(api::kVMIFailed);
  api::SetCondition(desired.conditions,
                    api::Condition{std::string(kConditionReady), "False", reason, message, "", ""},
                    w.now);
  base::Status s = PatchStatus(w, desired);
  if (!s.ok()) return s;
  base::log::Warning("VMI failed", {{"vmi", w.key}, {"reason", reason}, {"message", message}});
  deps_.events->Warning(w.event_object, reason, message);
  return base::Status::Ok();
}

base::Status VMIController::Start(Work& w) {
  // Claim the VMI for this node and record its migratability before the
  // (slow) start, so that a crash in between leaves a VMI this node resumes.
  api::VMIStatus desired = w.vmi.status;
  desired.phase = std::string(api::kVMIScheduled);
  desired.node_name = settings_.node_name;
  api::Migratability m = api::ComputeMigratability(w.vmi, deps_.pvcs);
  api::SetCondition(
      desired.conditions,
      m.ToCondition(api::FindCondition(desired.conditions, api::kConditionLiveMigratable), w.now),
      w.now);
  desired.migration_method = m.method;
  if (base::Status s = PatchStatus(w, desired); !s.ok()) return s;

  auto info = deps_.hv->Lookup(w.domain);
  if (!info.ok() && info.status().code() != base::Code::kNotFound) return info.status();
  const bool up =
      info.ok() && (info->state == DomainState::kRunning || info->state == DomainState::kBlocked ||
                    info->state == DomainState::kPaused);
  if (!up) {
    auto sources = deps_.files->Prepare(w.vmi);
    if (!sources.ok()) {
      const base::Status& e = sources.status();
      if (Transient(e.code())) return e;
      if (e.code() == base::Code::kFailedPrecondition) {
        // Like a pod waiting for its claim: the PVC may be bound later.
        desired = w.vmi.status;
        api::SetCondition(desired.conditions,
                          api::Condition{std::string(kConditionReady), "False", "VolumeNotReady",
                                         e.message(), "", ""},
                          w.now);
        if (base::Status s = PatchStatus(w, desired); !s.ok()) return s;
        deps_.events->Warning(w.event_object, "VolumeNotReady", e.message());
        base::log::Info("VMI waits for its volumes", {{"vmi", w.key}, {"reason", e.message()}});
        return e;
      }
      return Fail(w, "VolumePrepareFailed", e.message());
    }
    auto log_path = deps_.files->SerialLogPath(w.vmi.meta.namespace_, w.vmi.meta.name);
    if (!log_path.ok()) return Fail(w, "InvalidSpec", log_path.status().message());
    DomainSettings ds = settings_.domain;
    ds.serial_log_path = *log_path;
    auto xml = BuildDomainXml(w.vmi, *sources, ds);
    if (!xml.ok()) return Fail(w, "InvalidSpec", xml.status().message());
    base::Status s = deps_.hv->Define(*xml);
    if (!s.ok()) {
      if (Transient(s.code())) return s;
      return Fail(w, "DomainDefineFailed", "defining domain " + w.domain + ": " + s.message());
    }
    s = deps_.hv->Start(w.domain);
    if (!s.ok()) {
      // FailedPrecondition: libvirt says it is already running (a start raced
      // with ours, or the Lookup above was stale): that is what we wanted.
      auto again = deps_.hv->Lookup(w.domain);
      const bool running = again.ok() && (again->state == DomainState::kRunning ||
                                          again->state == DomainState::kBlocked ||
                                          again->state == DomainState::kPaused);
      if (!running) {
        if (Transient(s.code())) return s;
        return Fail(w, "DomainStartFailed", "starting domain " + w.domain + ": " + s.message());
      }
    }
    base::log::Info("domain started", {{"vmi", w.key}, {"domain", w.domain}});
  }
  desired = w.vmi.status;
  desired.phase = std::string(api::kVMIRunning);
  const bool paused = up && info->state == DomainState::kPaused;
  api::SetCondition(desired.conditions,
                    paused ? api::Condition{std::string(kConditionReady), "False", "Paused",
                                            "domain " + w.domain + " is paused", "", ""}
                           : api::Condition{std::string(kConditionReady), "True", "DomainRunning",
                                            "domain " + w.domain + " is running", "", ""},
                    w.now);
  if (base::Status s = PatchStatus(w, desired); !s.ok()) return s;
  deps_.events->Normal(w.event_object, "Started",
                       "domain " + w.domain + " started on node " + settings_.node_name);
  return base::Status::Ok();
}

base::Status VMIController::Observe(Work& w) {
  auto info = deps_.hv->Lookup(w.domain);
  if (!info.ok()) {
    if (info.status().code() == base::Code::kNotFound) {
      return Fail(w, "DomainLost",
                  "domain " + w.domain + " no longer exists on node " + settings_.node_name);
    }
    return info.status();
  }
  api::VMIStatus desired = w.vmi.status;
  auto ready = [&](const char* status, const char* reason, std::string message) {
    api::SetCondition(
        desired.conditions,
        api::Condition{std::string(kConditionReady), status, reason, std::move(message), "", ""},
        w.now);
  };
  switch (info->state) {
    case DomainState::kRunning:
    case DomainState::kBlocked:
    case DomainState::kShutdown:  // still running while the guest shuts down
    case DomainState::kNoState:
      ready("True", "DomainRunning", "domain " + w.domain + " is running");
      break;
    case DomainState::kPaused: ready("False", "Paused", "domain " + w.domain + " is paused"); break;
    case DomainState::kSuspended:
      ready("False", "GuestSuspended", "the guest suspended itself (power management)");
      break;
    case DomainState::kShutoff:
      switch (info->state_reason) {
        case kShutoffShutdown: {
          desired.phase = std::string(api::kVMISucceeded);
          ready("False", "GuestShutdown", "the guest shut down");
          base::Status s = PatchStatus(w, desired);
          if (!s.ok()) return s;
          deps_.events->Normal(w.event_object, "Succeeded", "the guest shut down");
          return base::Status::Ok();
        }
        case kShutoffCrashed: return Fail(w, "GuestCrashed", "the guest crashed");
        case kShutoffDestroyed:
          return Fail(w, "DomainDestroyed", "domain " + w.domain + " was destroyed");
        case kShutoffFailed:
          return Fail(w, "DomainFailed", "domain " + w.domain + " failed (QEMU ended)");
        default:
          return Fail(w, "DomainStopped",
                      "domain " + w.domain + " is shut off (libvirt reason " +
                          std::to_string(info->state_reason) + ")");
      }
    case DomainState::kCrashed: return Fail(w, "GuestCrashed", "the guest crashed");
  }
  return PatchStatus(w, desired);
}

}  // namespace engine
