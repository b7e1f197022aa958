#include "engine/migration_controller.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <variant>

#include "api/conditions.h"
#include "api/json.h"
#include "api/timeouts.h"
#include "base/log.h"
#include "engine/forecast.h"
#include "engine/migration_flow.h"
#include "engine/node_lease.h"
#include "engine/resources.h"
#include "engine/units.h"
#include "kube/merge_diff.h"

namespace engine {
namespace {

using api::MigrationPhase;
using Doc = rapidjson::Document;

constexpr uint64_t kMiB = 1024 * 1024;

std::string ToJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

Doc ParseJson(const std::string& text) {
  Doc d;
  d.Parse(text.data(), text.size());
  if (d.HasParseError() || !d.IsObject()) d.SetObject();
  return d;
}

void Set(Doc& d, rapidjson::Value& obj, const char* key, rapidjson::Value v) {
  auto it = obj.FindMember(key);
  if (it != obj.MemberEnd()) {
    it->value = std::move(v);
  } else {
    obj.AddMember(rapidjson::Value(key, d.GetAllocator()), std::move(v), d.GetAllocator());
  }
}
void SetStr(Doc& d, rapidjson::Value& obj, const char* key, const std::string& s) {
  Set(d, obj, key, rapidjson::Value(s.c_str(), static_cast<rapidjson::SizeType>(s.size()),
                                    d.GetAllocator()));
}
rapidjson::Value& Obj(Doc& d, rapidjson::Value& parent, const char* key) {
  auto it = parent.FindMember(key);
  if (it == parent.MemberEnd() || !it->value.IsObject()) {
    Set(d, parent, key, rapidjson::Value(rapidjson::kObjectType));
    it = parent.FindMember(key);
  }
  return it->value;
}

// The progress object of docs/plugin.md.
void WriteProgress(Doc& d, rapidjson::Value& state, const MigrationProgress& p) {
  rapidjson::Value& o = Obj(d, state, "progress");
  Set(d, o, "dataTotalBytes", rapidjson::Value(static_cast<int64_t>(p.data_total_bytes)));
  Set(d, o, "dataProcessedBytes", rapidjson::Value(static_cast<int64_t>(p.data_processed_bytes)));
  Set(d, o, "dataRemainingBytes", rapidjson::Value(static_cast<int64_t>(p.data_remaining_bytes)));
  Set(d, o, "memoryBytesPerSecond",
      rapidjson::Value(static_cast<int64_t>(p.memory_bytes_per_second)));
  Set(d, o, "dirtyRateBytesPerSecond",
      rapidjson::Value(static_cast<int64_t>(p.dirty_rate_bytes_per_second)));
  Set(d, o, "iteration", rapidjson::Value(static_cast<int64_t>(p.iteration)));
}

std::string MigrateUri(const std::string& address) {
  if (address.empty()) return "";
  if (address.find(':') != std::string::npos && address.front() != '[') {
    return "tcp://[" + address + "]";
  }
  return "tcp://" + address;
}

EventObject VMIMRef(const api::VMIM& m) {
  return {"kubevirt.io/v1", "VirtualMachineInstanceMigration", m.meta.namespace_, m.meta.name,
          m.meta.uid};
}

}  // namespace

// What one reconcile works on: the VMIM as just read from the API server, and
// the VMI from the cache.
struct MigrationController::Context {
  std::string key;
  kube::Object obj;
  api::VMIM vmim;
  std::optional<api::VMI> vmi;
  api::KubeVirtConfig config;
  bool config_found = false;
};

struct MigrationController::Running {
  std::unique_ptr<MigrationRunner> runner;
  std::string key;
  std::string domain;
  std::string vmi_ns, vmi_name;
  std::string source, target, target_address;
  std::string start_timestamp;
  RunnerProgress progress;
  bool finished = false;
};

LeaseSlotLimiter::LeaseSlotLimiter(SlotManager* slots, std::string node, kube::Store* vmims,
                                   kube::Store* engine_leases, base::Clock* clock)
    : slots_(slots),
      node_(std::move(node)),
      vmims_(vmims),
      engine_leases_(engine_leases),
      clock_(clock) {}

base::StatusOr<SlotGrant> LeaseSlotLimiter::Acquire(const SlotRequest& request) {
  const auto now = clock_->WallNow();
  HolderLiveness alive = [this, now](const SlotHolder& h) {
    std::optional<api::VMIM> vmim;
    if (auto o = vmims_->Get(h.vmim); o && o->doc) {
      auto parsed = api::ParseVMIM(*o->doc);
      if (parsed.ok()) vmim = *parsed;
    }
    std::optional<EngineNode> engine;
    for (const kube::ObjectPtr& o : engine_leases_->List()) {
      if (o->name != LeaseName(h.engine_node)) continue;
      auto parsed = ParseEngineLease(*o);
      if (parsed.ok()) engine = *parsed;
    }
    return HolderAlive(h, vmim ? &*vmim : nullptr, engine ? &*engine : nullptr, now);
  };
  auto r = slots_->Acquire(request, alive);
  if (!r.ok()) return r.status();
  if (std::holds_alternative<SlotsAcquired>(*r)) return SlotGrant{true, "", ""};
  const SlotsBlocked& b = std::get<SlotsBlocked>(*r);
  std::string reason = b.limit_name == kLimitPerNode ? "ParallelOutboundMigrationsPerNodeReached"
                                                     : "ParallelMigrationsPerClusterReached";
  return SlotGrant{false, reason, b.message};
}

base::Status LeaseSlotLimiter::Release(const std::string& vmim_uid) {
  return slots_->Release(vmim_uid, node_);
}

MigrationController::MigrationController(MigrationControllerDeps deps,
                                         MigrationControllerSettings settings)
    : deps_(std::move(deps)), settings_(std::move(settings)) {}

MigrationController::~MigrationController() { Shutdown(); }

std::string MigrationController::Now() const {
  return base::FormatRfc3339(deps_.clock->WallNow());
}

std::optional<api::KubeVirtConfig> MigrationController::Config() const {
  auto obj = deps_.kubevirts->Get(settings_.kubevirt_namespace + "/" + settings_.kubevirt_name);
  if (!obj || !obj->doc) return std::nullopt;
  auto kv = api::ParseKubeVirt(*obj->doc);
  if (!kv.ok()) {
    base::log::Warning("cannot read the KubeVirt object",
                       {{"object", obj->Key()}, {"error", kv.status().message()}});
    return std::nullopt;
  }
  return kv->config;
}

void MigrationController::Calibrate(const RunnerResult& r) {
  // What this migration says about the fixed cost and the link: the time
  // not spent transferring (duration − data ÷ rate), and, when the
  // bandwidth was unlimited, the rate reached. The forecast model then
  // predicts from what this node really does (a TCG node under load starts a
  // target QEMU in seconds, a KVM node in a fraction of one).
  const JobStats& s = r.final_stats;
  const double duration = static_cast<double>(r.duration.count()) / 1000.0;
  const uint64_t sent = s.memory_processed + s.disk_processed;
  double rate = static_cast<double>(s.memory_bps + s.disk_bps);
  if (rate <= 0 && s.time_elapsed_ms > 0) {
    rate = static_cast<double>(sent) * 1000.0 / static_cast<double>(s.time_elapsed_ms);
  }
  if (rate <= 0 || duration <= 0) return;
  // The model's first pass sends the whole data (memory + copied disks) at
  // the rate: calibrating against the same quantity makes the next forecast
  // of a like migration come out at this one's duration.
  const double modelled = static_cast<double>(s.data_total > 0 ? s.data_total : sent);
  const double setup = std::max(0.0, duration - modelled / rate);
  auto blend = [](std::optional<double>& v, double sample) {
    v = v ? (*v + sample) / 2 : sample;
  };
  blend(learned_setup_seconds_, setup);
  if (r.unlimited_bandwidth) blend(learned_link_bytes_per_second_, rate);
}

bool MigrationController::IsCoordinator() const {
  std::string lowest;
  const auto now = deps_.clock->WallNow();
  for (const kube::ObjectPtr& o : deps_.engine_leases->List()) {
    auto node = ParseEngineLease(*o);
    if (!node.ok() || !IsFresh(*node, now)) continue;
    if (lowest.empty() || node->node_name < lowest) lowest = node->node_name;
  }
  return lowest == settings_.node_name;
}

int MigrationController::active_runners() const {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (const auto& [uid, r] : running_) n += r->finished ? 0 : 1;
  return n;
}

int MigrationController::Shutdown() {
  std::map<std::string, std::unique_ptr<Running>> running;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutting_down_ = true;
    running.swap(running_);
  }
  int left = 0;
  for (auto& [uid, r] : running) {
    if (!r->runner->done()) {
      ++left;
      r->runner->Abandon();
    }
    r->runner->Join();
  }
  return left;
}

void MigrationController::OnDomainEvent(const DomainEvent& event) {
  std::vector<std::string> keys;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [uid, r] : running_) {
      if (r->domain == event.domain && !r->finished) r->runner->OnEvent(event);
    }
  }
  // On a target, the incoming domain appearing is news for the VMIM.
  if (event.kind != DomainEvent::Kind::kLifecycle || event.lifecycle != DomainEvent::kStarted) {
    return;
  }
  auto ref = ParseDomainName(event.domain);
  if (!ref.ok()) return;
  for (const kube::ObjectPtr& o : deps_.vmims->List()) {
    if (o->namespace_ != ref->namespace_ || !o->doc) continue;
    auto name = kube::StringField(*o, "spec.vmiName");
    if (name && *name == ref->name) keys.push_back(o->Key());
  }
  for (const std::string& k : keys) deps_.requeue(k, std::chrono::nanoseconds(0));
}

base::Status MigrationController::Reconcile(const std::string& key) {
  // Forget runners that have finished (their threads have ended).
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->second->finished && it->second->runner->done()) {
        it->second->runner->Join();
        it = running_.erase(it);
      } else {
        ++it;
      }
    }
    if (shutting_down_) return base::Status::Ok();
  }
  auto slash = key.find('/');
  if (slash == std::string::npos) return base::Status::Ok();
  Context c;
  c.key = key;
  // The VMIM from the API server, not the cache: each step builds on the
  // phase the previous one wrote, and a cache a moment behind would repeat a
  // step (e.g. pick another target).
  auto got = deps_.api->Get(kVMIMs, key.substr(0, slash), key.substr(slash + 1), "");
  if (!got.ok()) {
    if (got.status().code() != base::Code::kNotFound) return got.status();
    RemoveTargetLeftovers(key);  // a migration cancelled before it ran
    return base::Status::Ok();
  }
  c.obj = *got;
  auto vmim = api::ParseVMIM(*c.obj.doc);
  if (!vmim.ok()) {
    base::log::Warning("cannot read migration", {{"vmim", key}, {"error", vmim.status().message()}});
    return base::Status::Ok();  // a malformed object does not get better by retrying
  }
  c.vmim = *vmim;
  auto vmi_obj = deps_.vmis->Get(c.vmim.meta.namespace_ + "/" + c.vmim.spec.vmi_name);
  if (vmi_obj && vmi_obj->doc) {
    auto vmi = api::ParseVMI(*vmi_obj->doc);
    if (vmi.ok()) c.vmi = *vmi;
  }
  if (auto cfg = Config()) {
    c.config = *cfg;
    c.config_found = true;
  }
  const api::MigrationState* ms =
      c.vmim.status.migration_state ? &*c.vmim.status.migration_state : nullptr;
  std::string source = ms && !ms->source_node.empty() ? ms->source_node
                       : c.vmi                        ? c.vmi->status.node_name
                                                      : "";
  if (c.vmim.IsFinal()) {
    if (ms && ms->target_node == settings_.node_name) RemoveTargetLeftovers(key);
    if (source == settings_.node_name || (source.empty() && IsCoordinator())) return Cleanup(c);
    return base::Status::Ok();
  }
  if (source == settings_.node_name) return Source(c);
  if (ms && ms->target_node == settings_.node_name) return Target(c);
  if (source.empty() && IsCoordinator()) {
    // No engine is the source of a migration whose VMI is missing or on no
    // node; one engine (the coordinator) gives it its answer.
    const std::string vmi_key = c.vmim.meta.namespace_ + "/" + c.vmim.spec.vmi_name;
    if (c.vmim.meta.deletion_timestamp) return Cleanup(c);
    if (!c.vmi) return Fail(c, "VMINotFound", "VMI " + vmi_key + " does not exist");
    return Fail(c, "VMINotRunning", "VMI " + vmi_key + " runs on no node (phase " +
                                        (c.vmi->status.phase.empty() ? std::string("unset")
                                                                     : c.vmi->status.phase) +
                                        ")");
  }
  // A VMIM whose VMI is gone or on no node: the source cannot be known. The
  // engine of the VMIM's labelled node, if any, is not asked; nothing to do
  // until the VMI appears (its add event requeues nothing, so a deleted VMI
  // leaves the VMIM to the garbage collector of its owner).
  return base::Status::Ok();
}

base::Status MigrationController::EnsureFinalizerAndLabel(Context& c) {
  const std::string fin(api::kFinalizerMigrationJob);
  const std::string label(api::kLabelVMIName);
  bool has_fin = std::find(c.vmim.meta.finalizers.begin(), c.vmim.meta.finalizers.end(), fin) !=
                 c.vmim.meta.finalizers.end();
  auto it = c.vmim.meta.labels.find(label);
  bool has_label = it != c.vmim.meta.labels.end() && it->second == c.vmim.spec.vmi_name;
  if (has_fin && has_label) return base::Status::Ok();
  Doc d(rapidjson::kObjectType);
  rapidjson::Value& meta = Obj(d, d, "metadata");
  SetStr(d, meta, "resourceVersion", c.vmim.meta.resource_version);
  if (!has_fin) {
    rapidjson::Value list(rapidjson::kArrayType);
    for (const std::string& f : c.vmim.meta.finalizers) {
      list.PushBack(rapidjson::Value(f.c_str(), d.GetAllocator()), d.GetAllocator());
    }
    list.PushBack(rapidjson::Value(fin.c_str(), d.GetAllocator()), d.GetAllocator());
    Set(d, meta, "finalizers", std::move(list));
  }
  if (!has_label) {
    rapidjson::Value& labels = Obj(d, meta, "labels");
    SetStr(d, labels, label.c_str(), c.vmim.spec.vmi_name);
  }
  auto r = deps_.api->Patch(kVMIMs, c.vmim.meta.namespace_, c.vmim.meta.name,
                            kube::PatchType::kMerge, ToJson(d), {});
  if (!r.ok()) return r.status();
  c.obj = *r;
  auto parsed = api::ParseVMIM(*c.obj.doc);
  if (!parsed.ok()) return parsed.status();
  c.vmim = *parsed;
  return base::Status::Ok();
}

base::Status MigrationController::RemoveFinalizer(Context& c) {
  const std::string fin(api::kFinalizerMigrationJob);
  auto& f = c.vmim.meta.finalizers;
  if (std::find(f.begin(), f.end(), fin) == f.end()) return base::Status::Ok();
  Doc d(rapidjson::kObjectType);
  rapidjson::Value& meta = Obj(d, d, "metadata");
  SetStr(d, meta, "resourceVersion", c.vmim.meta.resource_version);
  rapidjson::Value list(rapidjson::kArrayType);
  for (const std::string& x : f) {
    if (x != fin) list.PushBack(rapidjson::Value(x.c_str(), d.GetAllocator()), d.GetAllocator());
  }
  Set(d, meta, "finalizers", std::move(list));
  auto r = deps_.api->Patch(kVMIMs, c.vmim.meta.namespace_, c.vmim.meta.name,
                            kube::PatchType::kMerge, ToJson(d), {});
  if (!r.ok() && r.status().code() != base::Code::kNotFound) return r.status();
  return base::Status::Ok();
}

base::Status MigrationController::WriteVMIMStatus(Context& c, const std::string& extra_state_json) {
  Doc desired = ParseJson(api::VMIMStatusToJson(c.vmim.status));
  if (!extra_state_json.empty()) {
    Doc extra = ParseJson(extra_state_json);
    rapidjson::Value& state = Obj(desired, desired, "migrationState");
    for (auto& m : extra.GetObject()) {
      Set(desired, state, m.name.GetString(), rapidjson::Value(m.value, desired.GetAllocator()));
    }
  }
  static const rapidjson::Value kNull;
  const rapidjson::Value* current = kube::FieldByPath(*c.obj.doc, "status");
  auto diff = kube::MergePatchDiff(current ? *current : kNull, desired);
  if (!diff) return base::Status::Ok();
  std::string patch = R"({"metadata":{"resourceVersion":")" + c.vmim.meta.resource_version +
                      R"("},"status":)" + *diff + "}";
  kube::PatchOptions opts;
  opts.subresource = "status";
  auto r = deps_.api->Patch(kVMIMs, c.vmim.meta.namespace_, c.vmim.meta.name,
                            kube::PatchType::kMerge, patch, opts);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++status_writes_;
  }
  if (!r.ok()) return r.status();
  c.obj = *r;
  auto parsed = api::ParseVMIM(*c.obj.doc);
  if (!parsed.ok()) return parsed.status();
  c.vmim = *parsed;
  return base::Status::Ok();
}

base::Status MigrationController::PatchVMI(const std::string& ns, const std::string& name,
                                           const std::string& patch) {
  kube::PatchOptions opts;
  opts.subresource = "status";
  auto r = deps_.api->Patch(kVMIs, ns, name, kube::PatchType::kMerge, patch, opts);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++status_writes_;
  }
  return r.ok() ? base::Status::Ok() : r.status();
}

base::Status MigrationController::Fail(Context& c, const std::string& reason,
                                       const std::string& message) {
  const std::string now = Now();
  api::Condition cond{std::string(kConditionFailed), "True", reason, message, "", ""};
  api::SetCondition(c.vmim.status.conditions, cond, now);
  EnterPhase(c.vmim.status, MigrationPhase::kFailed, now);
  base::Status s = WriteVMIMStatus(c);
  if (!s.ok()) return s;
  base::log::Warning("migration failed",
                     {{"vmim", c.key}, {"reason", reason}, {"message", message}});
  deps_.events->Warning(VMIMRef(c.vmim), "MigrationFailed", message);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++results_["Failed"];
  }
  return Cleanup(c);
}

base::Status MigrationController::Cleanup(Context& c) {
  std::shared_future<base::StatusOr<uint64_t>> measurement;  // may wait for it: outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = running_.find(c.vmim.meta.uid);
    if (it != running_.end() && !it->second->finished) return base::Status::Ok();
    auto d = dirty_rates_.find(c.vmim.meta.uid);
    if (d != dirty_rates_.end()) {
      measurement = std::move(d->second);
      dirty_rates_.erase(d);
    }
  }
  base::Status s = deps_.slots->Release(c.vmim.meta.uid);
  if (!s.ok()) return s;
  if (s = RemoveFinalizer(c); !s.ok()) return s;
  CollectFinished(c.vmim.meta.namespace_, c.vmim.spec.vmi_name);
  return base::Status::Ok();
}

void MigrationController::RemoveTargetLeftovers(const std::string& key) {
  PreparedTarget p;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = prepared_targets_.find(key);
    if (it == prepared_targets_.end()) return;
    p = it->second;
    prepared_targets_.erase(it);
  }
  const std::string vmi_key = p.vmi_ns + "/" + p.vmi_name;
  if (kube::ObjectPtr o = deps_.vmis->Get(vmi_key); o && o->doc) {
    auto vmi = api::ParseVMI(*o->doc);
    if (vmi.ok() && vmi->status.node_name == settings_.node_name) return;  // it came here
  }
  auto domain = DomainName(p.vmi_ns, p.vmi_name);
  if (!domain.ok()) return;
  auto info = deps_.hv->Lookup(*domain);
  if (info.ok()) return;  // a domain of it is here: not leftovers
  if (info.status().code() != base::Code::kNotFound) {
    base::log::Warning("cannot tell whether a failed migration left files here; keeping them",
                       {{"vmim", key}, {"vmi", vmi_key}, {"error", info.status().ToString()}});
    return;
  }
  for (const kube::ObjectPtr& o : deps_.vmims->List()) {
    if (o->namespace_ != p.vmi_ns || !o->doc || o->uid == p.uid) continue;
    auto m = api::ParseVMIM(*o->doc);
    if (m.ok() && m->spec.vmi_name == p.vmi_name && !m->IsFinal() && m->status.migration_state &&
        m->status.migration_state->target_node == settings_.node_name) {
      return;  // another migration to this node needs them
    }
  }
  if (!deps_.remove_files) return;
  base::Status s = deps_.remove_files(p.vmi_ns, p.vmi_name);
  if (s.ok()) {
    base::log::Info("removed the files prepared for a migration that did not come",
                    {{"vmim", key}, {"vmi", vmi_key}});
  } else {
    base::log::Warning("cannot remove the files prepared for a migration that did not come",
                       {{"vmim", key}, {"vmi", vmi_key}, {"error", s.ToString()}});
  }
}

void MigrationController::CollectFinished(const std::string& ns, const std::string& vmi_name) {
  std::vector<api::VMIM> vmims;
  for (const kube::ObjectPtr& o : deps_.vmims->List()) {
    if (o->namespace_ != ns || !o->doc) continue;
    auto m = api::ParseVMIM(*o->doc);
    if (m.ok()) vmims.push_back(std::move(*m));
  }
  for (const api::VMIM* m : VMIMsToCollect(vmims, ns, vmi_name)) {
    kube::DeleteOptions opts;
    opts.precondition_uid = m->meta.uid;
    base::Status s = deps_.api->Delete(kVMIMs, ns, m->meta.name, opts);
    if (s.ok() || s.code() == base::Code::kNotFound) {
      base::log::Info("finished migration collected",
                      {{"vmim", ns + "/" + m->meta.name}, {"vmi", ns + "/" + vmi_name},
                       {"kept", kFinishedVMIMsKept}});
    } else {
      base::log::Warning("cannot collect a finished migration",
                         {{"vmim", ns + "/" + m->meta.name}, {"error", s.ToString()}});
    }
  }
}

base::Status MigrationController::Source(Context& c) {
  const std::string uid = c.vmim.meta.uid;
  const bool deleting = c.vmim.meta.deletion_timestamp.has_value();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = running_.find(uid);
    if (it != running_.end()) {
      if (deleting) it->second->runner->Cancel();
      return base::Status::Ok();
    }
  }
  api::VMIMStatus& st = c.vmim.status;
  if (st.phase == MigrationPhase::kRunning) return StartRunner(c, /*adopt=*/true);
  if (deleting) {
    // Cancelled before libvirt was called: nothing ran, nothing to report on
    // the VMI (design.md §2). The VMI's state is written just before the
    // VMIM says Running; a cancel in between finds it there and takes it
    // back, or the VMI would look migrating forever.
    if (c.vmi && c.vmi->status.migration_state &&
        c.vmi->status.migration_state->migration_uid == uid &&
        !c.vmi->status.migration_state->completed) {
      base::Status s = PatchVMI(c.vmi->meta.namespace_, c.vmi->meta.name,
                                R"({"status":{"migrationState":null}})");
      if (!s.ok()) return s;
    }
    base::Status s = Cleanup(c);
    if (s.ok()) {
      deps_.events->Normal(VMIMRef(c.vmim), "MigrationCancelled",
                           "cancelled before it started; the VMI stays on " + settings_.node_name);
    }
    return s;
  }
  if (base::Status s = EnsureFinalizerAndLabel(c); !s.ok()) return s;
  const std::string now = Now();
  if (st.phase == MigrationPhase::kUnset) EnterPhase(st, MigrationPhase::kPending, now);

  // Checks of admission, again: the webhook may be bypassed or racy.
  const std::string gate_where = settings_.kubevirt_namespace + "/" + settings_.kubevirt_name;
  if (!c.config_found) {
    return Fail(c, "LiveMigrationDisabled",
                "no KubeVirt object " + gate_where + ": the LiveMigration feature gate is not enabled");
  }
  if (!c.config.LiveMigrationEnabled()) {
    return Fail(c, "LiveMigrationDisabled",
                "the LiveMigration feature gate is not enabled in KubeVirt " + gate_where);
  }
  const std::string vmi_key = c.vmim.meta.namespace_ + "/" + c.vmim.spec.vmi_name;
  if (!c.vmi) return Fail(c, "VMINotFound", "VMI " + vmi_key + " does not exist");
  if (!c.vmi->IsRunning()) {
    return Fail(c, "VMINotRunning",
                "VMI " + vmi_key + " is not running (phase " +
                    (c.vmi->status.phase.empty() ? std::string("unset") : c.vmi->status.phase) + ")");
  }
  if (const api::Condition* lm =
          api::FindCondition(c.vmi->status.conditions, api::kConditionLiveMigratable);
      lm && lm->status == "False") {
    return Fail(c, "NotLiveMigratable",
                "VMI " + vmi_key + " is not live-migratable: " + lm->reason + ": " + lm->message);
  }
  // One migration per VMI: the oldest non-final VMIM wins.
  for (const kube::ObjectPtr& o : deps_.vmims->List()) {
    if (o->uid == uid || o->namespace_ != c.vmim.meta.namespace_ || !o->doc) continue;
    auto other = api::ParseVMIM(*o->doc);
    if (!other.ok() || other->IsFinal() || other->spec.vmi_name != c.vmim.spec.vmi_name) continue;
    bool older = other->meta.creation_timestamp < c.vmim.meta.creation_timestamp ||
                 (other->meta.creation_timestamp == c.vmim.meta.creation_timestamp &&
                  other->meta.name < c.vmim.meta.name);
    if (older) {
      return Fail(c, "MigrationInFlight",
                  "in-flight migration detected: " + o->Key() + " is already migrating VMI " +
                      vmi_key);
    }
  }

  if (st.phase == MigrationPhase::kPending) {
    SlotRequest req{uid, c.key, settings_.node_name,
                    c.config.migrations.parallel_outbound_migrations_per_node,
                    c.config.migrations.parallel_migrations_per_cluster};
    auto grant = deps_.slots->Acquire(req);
    if (!grant.ok()) return grant.status();
    if (!grant->acquired) {
      bool was_waiting = false;
      if (const api::Condition* w = api::FindCondition(st.conditions, kConditionWaiting)) {
        was_waiting = w->message == grant->message;
      }
      api::SetCondition(st.conditions,
                        {std::string(kConditionWaiting), "True", grant->reason, grant->message, "",
                         ""},
                        now);
      if (base::Status s = WriteVMIMStatus(c); !s.ok()) return s;
      if (!was_waiting) deps_.events->Normal(VMIMRef(c.vmim), "MigrationWaiting", grant->message);
      deps_.requeue(c.key, std::chrono::seconds(2));
      return base::Status::Ok();
    }
    api::RemoveCondition(st.conditions, kConditionWaiting);
    EnterPhase(st, MigrationPhase::kScheduling, now);
  }

  if (st.phase == MigrationPhase::kScheduling) {
    std::vector<TargetCandidate> candidates;
    const auto wall = deps_.clock->WallNow();
    for (const kube::ObjectPtr& o : deps_.engine_leases->List()) {
      auto node = ParseEngineLease(*o);
      if (!node.ok()) continue;
      TargetCandidate cand;
      cand.engine = *node;
      cand.fresh = IsFresh(*node, wall);
      if (auto n = deps_.nodes->Get(node->node_name); n && n->doc) {
        cand.node_known = true;
        const rapidjson::Value* u = kube::FieldByPath(*n->doc, "spec.unschedulable");
        cand.unschedulable = u && u->IsBool() && u->GetBool();
        cand.labels = n->labels;
      }
      candidates.push_back(std::move(cand));
    }
    for (const kube::ObjectPtr& o : deps_.vmims->List()) {
      if (!o->doc || o->uid == uid) continue;
      auto other = api::ParseVMIM(*o->doc);
      if (!other.ok() || other->IsFinal() || !other->status.migration_state) continue;
      for (TargetCandidate& cand : candidates) {
        if (cand.engine.node_name == other->status.migration_state->target_node) ++cand.inbound;
      }
    }
    TargetChoice choice = PickTarget(candidates, settings_.node_name,
                                     c.vmim.spec.added_node_selector, GuestMemoryBytes(*c.vmi));
    if (!choice.node) {
      const std::string msg = choice.Message();
      auto since = PhaseEnteredAt(st, MigrationPhase::kScheduling);
      const auto limit = UnschedulableTimeout(c.vmim, settings_.unschedulable_timeout);
      if (since && wall - *since >= limit) {
        return Fail(c, "Unschedulable",
                    msg + " (for " + std::to_string(limit.count()) + " s; gave up)");
      }
      bool same = false;
      if (const api::Condition* old = api::FindCondition(st.conditions, kConditionSchedulable)) {
        same = old->status == "False" && old->message == msg;
      }
      api::SetCondition(st.conditions,
                        {std::string(kConditionSchedulable), "False", "NoEligibleTarget", msg, "", ""},
                        now);
      if (base::Status s = WriteVMIMStatus(c); !s.ok()) return s;
      if (!same) deps_.events->Warning(VMIMRef(c.vmim), "MigrationUnschedulable", msg);
      deps_.requeue(c.key, std::chrono::seconds(5));
      return base::Status::Ok();
    }
    api::RemoveCondition(st.conditions, kConditionSchedulable);
    EnterPhase(st, MigrationPhase::kScheduled, now);
    EnterPhase(st, MigrationPhase::kPreparingTarget, now);
    api::MigrationState ms;
    ms.source_node = settings_.node_name;
    ms.target_node = *choice.node;
    ms.migration_uid = uid;
    ms.migration_configuration = c.config.migrations;
    st.migration_state = ms;
    if (base::Status s = WriteVMIMStatus(c); !s.ok()) return s;
    deps_.events->Normal(VMIMRef(c.vmim), "MigrationScheduled",
                         "migrating VMI " + vmi_key + " from " + settings_.node_name + " to " +
                             *choice.node);
    // The forecast's dirty rate: a recent sample, else measured while the
    // target prepares.
    auto domain = DomainName(c.vmi->meta.namespace_, c.vmi->meta.name);
    const bool sampled =
        domain.ok() && deps_.recent_dirty_rate && deps_.recent_dirty_rate(*domain).has_value();
    if (domain.ok() && !sampled) {
      Hypervisor* hv = deps_.hv;
      const int seconds = settings_.dirty_rate_seconds;
      const std::string dom = *domain;
      std::lock_guard<std::mutex> lock(mu_);
      dirty_rates_[uid] =
          std::async(std::launch::async, [hv, dom, seconds] { return hv->MeasureDirtyRate(dom, seconds); })
              .share();
    }
    return base::Status::Ok();
  }

  if (st.phase == MigrationPhase::kScheduled || st.phase == MigrationPhase::kPreparingTarget) {
    // The target's engine acts; fail if it is gone for good.
    const std::string target =
        st.migration_state ? st.migration_state->target_node : std::string();
    bool fresh = false;
    for (const kube::ObjectPtr& o : deps_.engine_leases->List()) {
      auto node = ParseEngineLease(*o);
      if (node.ok() && node->node_name == target) fresh = IsFresh(*node, deps_.clock->WallNow());
    }
    if (!fresh) {
      return Fail(c, "TargetLost",
                  "the migration engine of target node " + target +
                      " stopped renewing its lease before the target was ready");
    }
    deps_.requeue(c.key, std::chrono::seconds(5));
    return base::Status::Ok();
  }
  if (st.phase == MigrationPhase::kTargetReady) return StartRunner(c, /*adopt=*/false);
  return base::Status::Ok();
}

base::Status MigrationController::StartRunner(Context& c, bool adopt) {
  api::VMIMStatus& st = c.vmim.status;
  const std::string uid = c.vmim.meta.uid;
  const std::string vmi_key = c.vmim.meta.namespace_ + "/" + c.vmim.spec.vmi_name;
  if (!c.vmi) return Fail(c, "VMINotFound", "VMI " + vmi_key + " does not exist");
  auto domain = DomainName(c.vmi->meta.namespace_, c.vmi->meta.name);
  if (!domain.ok()) return Fail(c, "InvalidVMIName", domain.status().message());
  api::MigrationState ms = st.migration_state.value_or(api::MigrationState{});
  const api::MigrationConfig& cfg = c.config.migrations;

  RunnerOptions opts;
  opts.domain = *domain;
  opts.adopt = adopt;
  opts.cancel_requested = c.vmim.meta.deletion_timestamp.has_value();
  opts.poll_interval = settings_.poll_interval;
  opts.progress_interval = settings_.progress_interval;
  api::BytesToCopy bytes = api::ComputeBytesToCopy(*c.vmi);
  opts.monitor = SettingsFor(cfg, bytes.Total(), settings_.downtime);

  std::string dest_uri;
  std::string address = ms.target_node_address;
  for (const kube::ObjectPtr& o : deps_.engine_leases->List()) {
    auto node = ParseEngineLease(*o);
    if (node.ok() && node->node_name == ms.target_node) {
      dest_uri = node->libvirt_uri;
      if (address.empty()) address = node->migration_address;
    }
  }
  MigrateParams& p = opts.params;
  p.dest_uri = dest_uri;
  p.migrate_uri = MigrateUri(address);
  auto bw = cfg.bandwidth_per_migration.Bytes();
  uint64_t bw_bytes = bw.ok() && *bw > 0 ? static_cast<uint64_t>(*bw) : 0;
  // Whole MiB/s; below 1 MiB/s counts as 1 (design.md §2).
  p.bandwidth_mib = bw_bytes == 0 ? 0 : std::max<uint64_t>(1, bw_bytes / kMiB);
  p.tls = settings_.migration_tls;
  p.auto_converge = cfg.allow_auto_converge;
  p.allow_post_copy = cfg.allow_post_copy;
  p.max_downtime_ms = settings_.downtime.StepMs(0);
  uint64_t disk_bytes = 0;
  if (deps_.volume_sources) {
    auto sources = deps_.volume_sources(*c.vmi);
    if (!sources.ok()) {
      if (!adopt) return Fail(c, "VolumeNotReady", sources.status().message());
    } else {
      for (const auto& [name, v] : sources->volumes) p.unsafe = p.unsafe || v.shared;
      if (c.vmi->status.migration_method == api::kMethodBlockMigration) {
        auto files = BlockMigrationTargetFiles(*c.vmi, *sources);
        if (!files.ok()) {
          if (!adopt) return Fail(c, "BlockMigrationUnsupported", files.status().message());
        } else {
          for (const TargetFile& f : *files) {
            if (f.read_only) continue;
            p.copy_storage = true;
            p.copy_disks.push_back(f.dev);
            disk_bytes += f.size_bytes;
          }
        }
      }
    }
  }
  if (dest_uri.empty()) {
    return Fail(c, "TargetLost", "no migration engine registered for target node " + ms.target_node);
  }

  auto running = std::make_unique<Running>();
  running->key = c.key;
  running->domain = *domain;
  running->vmi_ns = c.vmi->meta.namespace_;
  running->vmi_name = c.vmi->meta.name;
  running->source = settings_.node_name;
  running->target = ms.target_node;
  running->target_address = address;

  if (!adopt) {
    // The forecast: the dirty rate measured while the target prepared.
    std::optional<uint64_t> dirty;
    std::shared_future<base::StatusOr<uint64_t>> fut;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = dirty_rates_.find(uid);
      if (it != dirty_rates_.end()) fut = it->second;
    }
    if (!fut.valid() && deps_.recent_dirty_rate) {
      dirty = deps_.recent_dirty_rate(*domain);
    }
    if (!fut.valid() && !dirty) {
      Hypervisor* hv = deps_.hv;
      const std::string dom = *domain;
      const int seconds = settings_.dirty_rate_seconds;
      fut = std::async(std::launch::async, [hv, dom, seconds] {
              return hv->MeasureDirtyRate(dom, seconds);
            }).share();
    }
    if (fut.valid() && fut.wait_for(std::chrono::seconds(settings_.dirty_rate_seconds + 3)) ==
                           std::future_status::ready) {
      const auto& r = fut.get();
      if (r.ok()) dirty = *r;
    }
    ForecastInput fin;
    fin.memory_bytes = GuestMemoryBytes(*c.vmi);
    fin.disk_bytes = disk_bytes;
    fin.dirty_bytes_per_second = dirty.value_or(0);
    fin.bandwidth_bytes_per_second = p.bandwidth_mib * kMiB;
    fin.link_bytes_per_second = settings_.link_bytes_per_second;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (learned_setup_seconds_) fin.setup_seconds = *learned_setup_seconds_;
      if (learned_link_bytes_per_second_) {
        fin.link_bytes_per_second = static_cast<uint64_t>(*learned_link_bytes_per_second_);
      }
    }
    fin.max_downtime_ms = settings_.downtime.max_ms;
    fin.completion_timeout_seconds =
        api::CompletionTimeoutSeconds(bytes.Total(), cfg.completion_timeout_per_gib);
    fin.allow_post_copy = cfg.allow_post_copy;
    fin.allow_auto_converge = cfg.allow_auto_converge;
    Forecast forecast = ForecastConvergence(fin);
    api::Condition fc = ForecastCondition(forecast);
    if (!dirty) {
      fc.message += " (dirty rate not measured: assumed 0)";
    }
    const std::string now = Now();
    api::SetCondition(st.conditions, fc, now);

    ms.start_timestamp = now;
    ms.end_timestamp.reset();
    ms.target_node_address = address;
    ms.mode = "PreCopy";
    ms.migration_uid = uid;
    ms.source_node = settings_.node_name;
    ms.migration_configuration = cfg;
    running->start_timestamp = now;

    // The VMI first, then the VMIM: once the VMIM says Running, a restarted
    // engine only adopts; it must find the VMI's state there already.
    Doc vmi_state = ParseJson(api::MigrationStateToJson(ms));
    {
      rapidjson::Value& f = Obj(vmi_state, vmi_state, "forecast");
      SetStr(vmi_state, f, "verdict", std::string(fc.reason));
      Set(vmi_state, f, "durationSeconds", rapidjson::Value(forecast.duration_seconds));
      Set(vmi_state, f, "dirtyRateBytesPerSecond",
          rapidjson::Value(static_cast<int64_t>(forecast.dirty_bytes_per_second)));
      Set(vmi_state, f, "rateBytesPerSecond",
          rapidjson::Value(static_cast<int64_t>(forecast.rate_bytes_per_second)));
      SetStr(vmi_state, f, "message", forecast.message);
    }
    std::string forecast_json;
    {
      auto fit = vmi_state.FindMember("forecast");
      forecast_json = R"({"forecast":)" + ToJson(fit->value) + "}";
    }
    std::string vmi_patch = R"([{"op":"add","path":"/status/migrationState","value":)" +
                            ToJson(vmi_state) + "}]";
    kube::PatchOptions popts;
    popts.subresource = "status";
    auto r = deps_.api->Patch(kVMIs, c.vmi->meta.namespace_, c.vmi->meta.name,
                              kube::PatchType::kJson, vmi_patch, popts);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++status_writes_;
    }
    if (!r.ok()) return r.status();
    EnterPhase(st, MigrationPhase::kRunning, now);
    st.migration_state = ms;
    if (base::Status s = WriteVMIMStatus(c, forecast_json); !s.ok()) return s;
    deps_.events->Normal(VMIMRef(c.vmim), "MigrationForecast", fc.message);
    deps_.events->Normal(VMIMRef(c.vmim), "MigrationStarted",
                         "live migration of VMI " + vmi_key + " from " + settings_.node_name +
                             " to " + ms.target_node + " started");
    base::log::Info("migration started",
                    {{"vmim", c.key}, {"domain", *domain}, {"target", ms.target_node},
                     {"dest_uri", dest_uri}, {"migrate_uri", p.migrate_uri},
                     {"bandwidth_mib", p.bandwidth_mib}, {"copy_storage", p.copy_storage},
                     {"forecast", fc.message}});
  } else {
    running->start_timestamp = ms.start_timestamp.value_or("");
    // The timeouts count from the original start, not from the adoption.
    if (ms.start_timestamp) {
      if (auto started = base::ParseRfc3339(*ms.start_timestamp)) {
        auto elapsed = deps_.clock->WallNow() - *started;
        if (elapsed > std::chrono::seconds(0)) {
          opts.elapsed_before = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed);
        }
      }
    }
    base::log::Info("adopting migration after a restart", {{"vmim", c.key}, {"domain", *domain}});
  }

  const std::string key = c.key;
  Running* raw = running.get();
  RunnerCallbacks cb;
  cb.on_progress = [this, raw](const RunnerProgress& pr) {
    Doc d(rapidjson::kObjectType);
    rapidjson::Value& state = Obj(d, Obj(d, d, "status"), "migrationState");
    WriteProgress(d, state, pr.fields);
    SetStr(d, state, "mode", pr.mode);
    {
      std::lock_guard<std::mutex> lock(mu_);
      raw->progress = pr;
    }
    base::Status s = PatchVMI(raw->vmi_ns, raw->vmi_name, ToJson(d));
    if (!s.ok()) {
      base::log::Warning("cannot write migration progress",
                         {{"vmim", raw->key}, {"error", s.ToString()}});
    }
  };
  cb.on_abort = [this, raw, uid]() {
    const std::string patch =
        R"({"status":{"migrationState":{"abortRequested":true,"abortStatus":"Aborting"}}})";
    base::Status s = PatchVMI(raw->vmi_ns, raw->vmi_name, patch);
    if (!s.ok()) {
      base::log::Warning("cannot write abort request", {{"vmim", raw->key}, {"error", s.ToString()}});
    }
    auto slash = raw->key.find('/');
    kube::PatchOptions o;
    o.subresource = "status";
    auto r = deps_.api->Patch(kVMIMs, raw->key.substr(0, slash), raw->key.substr(slash + 1),
                              kube::PatchType::kMerge, patch, o);
    (void)r;
    (void)uid;
  };
  cb.on_done = [this, key, uid](const RunnerResult& r) { OnRunnerDone(key, uid, r); };
  running->runner =
      std::make_unique<MigrationRunner>(deps_.hv, deps_.clock, std::move(opts), std::move(cb));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutting_down_) return base::Status::Ok();
    ++started_;
    if (adopt) ++adopted_;
    running_[uid] = std::move(running);
    if (deps_.set_migrating) deps_.set_migrating(raw->domain, true);
    raw->runner->Start();
  }
  return base::Status::Ok();
}

void MigrationController::OnRunnerDone(const std::string& key, const std::string& uid,
                                       const RunnerResult& r) {
  Running* run;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = running_.find(uid);
    if (it == running_.end()) return;
    run = it->second.get();
  }
  const std::string now = Now();
  const bool ok = r.outcome == RunnerOutcome::kSucceeded;
  // The VMI's final state.
  Doc d(rapidjson::kObjectType);
  rapidjson::Value& status = Obj(d, d, "status");
  rapidjson::Value& state = Obj(d, status, "migrationState");
  SetStr(d, state, "endTimestamp", now);
  Set(d, state, "completed", rapidjson::Value(true));
  Set(d, state, "failed", rapidjson::Value(!ok));
  SetStr(d, state, "mode", r.mode);
  SetStr(d, state, "targetNodeAddress", run->target_address);
  if (r.abort_requested) {
    Set(d, state, "abortRequested", rapidjson::Value(true));
    if (!r.abort_status.empty()) SetStr(d, state, "abortStatus", r.abort_status);
  }
  if (!ok) SetStr(d, state, "failureReason", r.failure_reason);
  if (ok) {
    Set(d, state, "targetNodeDomainDetected", rapidjson::Value(true));
    SetStr(d, state, "targetNodeDomainReadyTimestamp", now);
    SetStr(d, status, "nodeName", run->target);
  }
  if (r.downtime_ms) {
    Set(d, state, "downtimeMs", rapidjson::Value(static_cast<int64_t>(*r.downtime_ms)));
  }
  Set(d, state, "durationMs", rapidjson::Value(static_cast<int64_t>(r.duration.count())));
  if (r.last_progress.report.has_figures) {
    MigrationProgress p = r.last_progress.fields;
    if (ok) {
      p.data_processed_bytes = p.data_total_bytes;
      p.data_remaining_bytes = 0;
    }
    WriteProgress(d, state, p);
  }
  const std::string vmi_patch = ToJson(d);
  // Retried until written: the outcome must reach the user (an API server
  // down for a while is waited for; only shutdown stops it, and the next
  // start adopts the finished job and writes it then).
  auto backoff = std::chrono::milliseconds(200);
  while (true) {
    base::Status s = PatchVMI(run->vmi_ns, run->vmi_name, vmi_patch);
    if (s.ok() || s.code() == base::Code::kNotFound) break;
    base::log::Warning("cannot write the migration outcome to the VMI; retrying",
                       {{"vmim", key}, {"error", s.ToString()}});
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutting_down_) return;
    }
    deps_.clock->SleepFor(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
  // The VMIM: phase, conditions and the mirror of the VMI's state.
  auto slash = key.find('/');
  backoff = std::chrono::milliseconds(200);
  while (true) {
    auto got = deps_.api->Get(kVMIMs, key.substr(0, slash), key.substr(slash + 1), "");
    base::Status s;
    if (got.ok()) {
      Context c;
      c.key = key;
      c.obj = *got;
      auto vmim = api::ParseVMIM(*c.obj.doc);
      if (!vmim.ok()) break;
      c.vmim = *vmim;
      api::VMIMStatus& st = c.vmim.status;
      if (ok) {
        api::SetCondition(st.conditions,
                          {std::string(kConditionSucceeded), "True", "MigrationCompleted",
                           "the VMI now runs on " + run->target, "", ""},
                          now);
      } else {
        std::string reason = r.outcome == RunnerOutcome::kCancelled ? "Cancelled"
                             : r.abort_reason != AbortReason::kNone ? AbortReasonName(r.abort_reason)
                                                                    : "MigrationFailed";
        api::SetCondition(st.conditions,
                          {std::string(kConditionFailed), "True", reason, r.failure_reason, "", ""},
                          now);
      }
      EnterPhase(st, ok ? MigrationPhase::kSucceeded : MigrationPhase::kFailed, now);
      api::MigrationState ms = st.migration_state.value_or(api::MigrationState{});
      ms.end_timestamp = now;
      ms.completed = true;
      ms.failed = !ok;
      ms.mode = r.mode;
      ms.target_node_address = run->target_address;
      if (r.abort_requested) {
        ms.abort_requested = true;
        ms.abort_status = r.abort_status;
      }
      if (!ok) ms.failure_reason = r.failure_reason;
      if (ok) ms.target_node_domain_detected = true;
      if (!ms.start_timestamp && !run->start_timestamp.empty()) {
        ms.start_timestamp = run->start_timestamp;
      }
      st.migration_state = ms;
      std::string extra = "{";
      if (r.downtime_ms) extra += R"("downtimeMs":)" + std::to_string(*r.downtime_ms) + ",";
      if (ok) extra += R"("targetNodeDomainReadyTimestamp":")" + now + R"(",)";
      extra += R"("durationMs":)" + std::to_string(r.duration.count()) + "}";
      s = WriteVMIMStatus(c, extra);
      if (s.ok() || s.code() == base::Code::kNotFound) break;
    } else {
      s = got.status();
      if (s.code() == base::Code::kNotFound) break;
    }
    base::log::Warning("cannot write the migration outcome to the VMIM; retrying",
                       {{"vmim", key}, {"error", s.ToString()}});
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutting_down_) return;
    }
    if (s.code() != base::Code::kAborted) deps_.clock->SleepFor(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
  if (ok && deps_.remove_files) {
    // The VMI's files here (disk copies, ISO, serial log) belong to a domain
    // that now lives on the target.
    base::Status s = deps_.remove_files(run->vmi_ns, run->vmi_name);
    if (!s.ok()) {
      base::log::Warning("cannot remove the migrated VMI's files on the source",
                         {{"vmim", key}, {"error", s.ToString()}});
    }
  }
  EventObject ref{"kubevirt.io/v1", "VirtualMachineInstanceMigration", key.substr(0, slash),
                  key.substr(slash + 1), uid};
  char took[32];
  std::snprintf(took, sizeof took, "%.1f s", static_cast<double>(r.duration.count()) / 1000.0);
  switch (r.outcome) {
    case RunnerOutcome::kSucceeded:
      deps_.events->Normal(ref, "MigrationSucceeded",
                           "migrated to " + run->target + " in " + std::string(took) +
                               (r.downtime_ms ? ", downtime " + std::to_string(*r.downtime_ms) + " ms"
                                              : std::string()));
      break;
    case RunnerOutcome::kCancelled:
      deps_.events->Normal(ref, "MigrationAborted",
                           "cancelled; the VMI keeps running on " + run->source);
      break;
    case RunnerOutcome::kFailed:
      deps_.events->Warning(ref, "MigrationFailed", r.failure_reason);
      break;
  }
  base::log::Info("migration ended",
                  {{"vmim", key}, {"outcome", RunnerOutcomeName(r.outcome)},
                   {"duration_ms", static_cast<int64_t>(r.duration.count())},
                   {"downtime_ms", r.downtime_ms ? static_cast<int64_t>(*r.downtime_ms) : -1},
                   {"reason", r.failure_reason}});
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++results_[RunnerOutcomeName(r.outcome)];
    if (ok) Calibrate(r);
    duration_.Observe(static_cast<double>(r.duration.count()) / 1000.0);
    if (r.downtime_ms) downtime_.Observe(static_cast<double>(*r.downtime_ms) / 1000.0);
    run->finished = true;
  }
  if (deps_.set_migrating) deps_.set_migrating(run->domain, false);
  deps_.requeue(key, std::chrono::nanoseconds(0));
}

base::Status MigrationController::Target(Context& c) {
  api::VMIMStatus& st = c.vmim.status;
  if (!c.vmi) return base::Status::Ok();
  if (st.phase == MigrationPhase::kPreparingTarget || st.phase == MigrationPhase::kScheduled) {
    if (c.vmim.meta.deletion_timestamp) return base::Status::Ok();
    if (deps_.prepare_target) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        prepared_targets_[c.key] = {c.vmim.meta.uid, c.vmi->meta.namespace_, c.vmi->meta.name};
      }
      base::Status s = deps_.prepare_target(*c.vmi);
      if (!s.ok()) {
        if (s.code() == base::Code::kUnavailable) return s;
        return Fail(c, "TargetPreparationFailed",
                    "node " + settings_.node_name + " cannot prepare the disks: " + s.message());
      }
    }
    const std::string now = Now();
    EnterPhase(st, MigrationPhase::kScheduled, now);
    EnterPhase(st, MigrationPhase::kTargetReady, now);
    st.migration_state->target_node_address = settings_.migration_address;
    base::Status s = WriteVMIMStatus(c);
    if (s.ok()) {
      base::log::Info("target ready", {{"vmim", c.key}, {"address", settings_.migration_address}});
    }
    return s;
  }
  if (st.phase == MigrationPhase::kRunning && c.vmi->status.migration_state &&
      c.vmi->status.migration_state->migration_uid == c.vmim.meta.uid &&
      !c.vmi->status.migration_state->target_node_domain_detected) {
    auto domain = DomainName(c.vmi->meta.namespace_, c.vmi->meta.name);
    if (!domain.ok()) return base::Status::Ok();
    auto info = deps_.hv->Lookup(*domain);
    if (info.ok()) {
      return PatchVMI(c.vmi->meta.namespace_, c.vmi->meta.name,
                      R"({"status":{"migrationState":{"targetNodeDomainDetected":true}}})");
    }
  }
  return base::Status::Ok();
}

void MigrationController::WriteMetrics(base::prom::TextWriter& w) const {
  // Migrations from this node by phase, from the cache (the final phases
  // count the VMIMs still stored: up to 5 per VMI are kept).
  std::map<std::string, uint64_t> by_phase;
  for (const char* p : {"Pending", "Scheduling", "Scheduled", "PreparingTarget", "TargetReady",
                        "Running", "Succeeded", "Failed"}) {
    by_phase[p] = 0;
  }
  for (const kube::ObjectPtr& o : deps_.vmims->List()) {
    auto source = kube::StringField(*o, "status.migrationState.sourceNode");
    if (!source) {
      // Before PreparingTarget the source is where the VMI runs.
      auto vmi_name = kube::StringField(*o, "spec.vmiName");
      if (vmi_name) {
        if (auto vmi = deps_.vmis->Get(o->namespace_ + "/" + *vmi_name)) {
          source = kube::StringField(*vmi, "status.nodeName");
        }
      }
    }
    auto phase = kube::StringField(*o, "status.phase");
    if (!source || *source != settings_.node_name || !phase) continue;
    auto it = by_phase.find(*phase);
    if (it != by_phase.end()) ++it->second;
  }
  w.Family("migration_engine_migrations", "gauge",
           "Migrations from this node by VMIM phase (from the engine's cache).");
  for (const auto& [phase, n] : by_phase) {
    w.Sample("migration_engine_migrations", {{"phase", phase}}, n);
  }
  std::lock_guard<std::mutex> lock(mu_);
  w.Family("migration_engine_migrations_total", "counter",
           "Migrations this engine ran as the source, by result (Succeeded, Failed, Cancelled).");
  for (const char* r : {"Succeeded", "Failed", "Cancelled"}) {
    auto it = results_.find(r);
    w.Sample("migration_engine_migrations_total", {{"result", r}},
             it == results_.end() ? uint64_t{0} : it->second);
  }
  w.Family("migration_engine_migrations_started_total", "counter",
           "libvirt migration jobs started or adopted by this engine.");
  w.Sample("migration_engine_migrations_started_total", {}, started_);
  w.Family("migration_engine_migrations_adopted_total", "counter",
           "Running migrations adopted after an engine restart.");
  w.Sample("migration_engine_migrations_adopted_total", {}, adopted_);
  w.Family("migration_engine_status_writes_total", "counter",
           "Status patches this engine sent for migrations (VMIM and VMI).");
  w.Sample("migration_engine_status_writes_total", {}, status_writes_);
  uint64_t running = 0;
  for (const auto& [uid, r] : running_) running += r->finished ? 0 : 1;
  w.Family("migration_engine_migrations_running", "gauge", "Migrations running from this node.");
  w.Sample("migration_engine_migrations_running", {}, running);
  const char* names[] = {"migration_engine_migration_data_total_bytes",
                         "migration_engine_migration_data_processed_bytes",
                         "migration_engine_migration_data_remaining_bytes",
                         "migration_engine_migration_transfer_rate_bytes",
                         "migration_engine_migration_dirty_rate_bytes"};
  const char* helps[] = {"Work known so far of a running migration (bytes).",
                         "Guest data dealt with so far (bytes).",
                         "Data still to copy (bytes).",
                         "Current transfer rate (bytes per second).",
                         "Guest page dirtying rate (bytes per second)."};
  for (int i = 0; i < 5; ++i) {
    w.Family(names[i], "gauge", helps[i]);
    for (const auto& [uid, r] : running_) {
      if (r->finished) continue;
      const MigrationProgress& p = r->progress.fields;
      uint64_t v = i == 0   ? p.data_total_bytes
                   : i == 1 ? p.data_processed_bytes
                   : i == 2 ? p.data_remaining_bytes
                   : i == 3 ? p.memory_bytes_per_second
                            : p.dirty_rate_bytes_per_second;
      w.Sample(names[i], {{"vmim", r->key}}, v);
    }
  }
  w.Family("migration_engine_migration_duration_seconds", "histogram",
           "Duration of finished migrations (libvirt call to outcome).");
  w.HistogramSeries("migration_engine_migration_duration_seconds", {}, duration_);
  w.Family("migration_engine_migration_downtime_seconds", "histogram",
           "Guest downtime measured by QEMU in successful migrations.");
  w.HistogramSeries("migration_engine_migration_downtime_seconds", {}, downtime_);
}

}  // namespace engine
