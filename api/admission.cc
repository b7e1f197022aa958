#include "api/admission.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cstdio>
#include <limits>

#include "api/json.h"
#include "api/json_util.h"
#include "api/names.h"
#include "api/timeouts.h"

namespace api {
namespace {

using json_internal::Join;
using json_internal::Member;
using json_internal::TypeName;
using rapidjson::Value;

// A short, quoted, single-line rendering of untrusted text for messages.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 80)) out += (c == '\n' || c == '\r' || c == '"') ? ' ' : c;
  if (s.size() > 80) out += "...";
  return out + "\"";
}

// ---------------------------------------------------------------- verdicts

// Rank of a cause: lower is more fundamental (see the header's table).
int Rank(std::string_view reason) {
  if (reason == kCauseMalformedObject) return 0;
  if (reason == kCauseInvalidSpec || reason == kCauseSpecImmutable ||
      reason == kCauseSelectorLabelImmutable) {
    return 1;
  }
  if (reason == kCauseClusterLimitReached || reason == kCauseNodeLimitReached) return 3;
  return 2;
}

AdmissionDecision Finish(std::vector<Cause> causes, std::vector<std::string> warnings) {
  AdmissionDecision d;
  d.causes = std::move(causes);
  if (d.causes.empty()) {
    d.warnings = std::move(warnings);
    return d;
  }
  d.allowed = false;
  int rank = 3;
  for (Cause& c : d.causes) {
    // The message must stay one line whatever the VMI's condition contained.
    for (char& ch : c.message) {
      if (ch == '\n' || ch == '\r') ch = ' ';
    }
    rank = std::min(rank, Rank(c.reason));
    if (!d.message.empty()) d.message += "; ";
    d.message += c.message;
  }
  static constexpr struct {
    int code;
    const char* reason;
  } kByRank[] = {
      {400, "BadRequest"}, {422, "Invalid"}, {403, "Forbidden"}, {429, "TooManyRequests"}};
  d.code = kByRank[rank].code;
  d.status_reason = kByRank[rank].reason;
  return d;
}

std::string GiB(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(bytes) / static_cast<double>(kGiB));
  return buf;
}

// "held by ns/a, ns/b", sorted (the cache's order is not stable, the message
// should be), at most 10 named: the user sees which migrations to wait for
// (or cancel).
std::string HeldBy(std::vector<std::string> holders) {
  std::sort(holders.begin(), holders.end());
  constexpr size_t kMaxNamed = 10;
  std::string out;
  for (size_t i = 0; i < holders.size() && i < kMaxNamed; ++i) {
    out += (i == 0 ? "held by " : ", ") + holders[i];
  }
  if (holders.size() > kMaxNamed) {
    out += " and " + std::to_string(holders.size() - kMaxNamed) + " more";
  }
  return out.empty() ? out : out + "; ";
}

std::string PhaseText(std::string_view phase) {
  return phase.empty() ? "no phase yet" : "phase " + std::string(phase);
}

void CheckCreateSpec(const VMIM& m, std::vector<Cause>& causes) {
  const std::string& name = m.spec.vmi_name;
  if (name.empty()) {
    causes.push_back(
        {std::string(kCauseInvalidSpec), "spec.vmiName: must not be empty", "spec.vmiName"});
  } else if (!IsDns1123Subdomain(name)) {
    causes.push_back(
        {std::string(kCauseInvalidSpec),
         "spec.vmiName: " + Quote(name) +
             " is not a valid name (lowercase letters, digits, '-' and '.', at most 253)",
         "spec.vmiName"});
  }
  for (const auto& [k, v] : m.spec.added_node_selector) {
    const std::string field = "spec.addedNodeSelector[" + k + "]";
    if (!IsQualifiedName(k)) {
      causes.push_back({std::string(kCauseInvalidSpec),
                        "spec.addedNodeSelector: " + Quote(k) + " is not a valid label key",
                        field});
    } else if (!IsLabelValue(v)) {
      causes.push_back({std::string(kCauseInvalidSpec),
                        field + ": " + Quote(v) + " is not a valid label value", field});
    }
  }
}

void CheckMigratable(const VMI& vmi, const std::string& key, const PVCLookup& pvcs,
                     std::vector<Cause>& causes, std::vector<std::string>& warnings) {
  const Condition* cond = FindCondition(vmi.status.conditions, kConditionLiveMigratable);
  if (cond != nullptr && cond->status == "False") {
    causes.push_back({std::string(kCauseNotLiveMigratable),
                      "VMI " + key +
                          " is not live migratable: condition LiveMigratable is False, reason " +
                          cond->reason + ": " + cond->message,
                      "spec.vmiName"});
    return;
  }
  if (cond != nullptr && cond->status == "True") return;
  // No verdict from the engine yet: judge the spec ourselves when we can.
  if (pvcs) {
    Migratability m = ComputeMigratability(vmi, pvcs);
    if (!m.migratable) {
      Condition c = m.ToCondition(nullptr, "");
      causes.push_back(
          {std::string(kCauseNotLiveMigratable),
           "VMI " + key + " is not live migratable: reason " + c.reason + ": " + c.message,
           "spec.vmiName"});
      return;
    }
  }
  warnings.push_back("VMI " + key +
                     " has no LiveMigratable condition yet; the engine checks migratability before "
                     "migrating");
}

void AddAdvice(const VMI& vmi, const std::string& key, const MigrationConfig& cfg,
               std::vector<std::string>& warnings) {
  BytesToCopy bytes = ComputeBytesToCopy(vmi);
  if (bytes.block_migration) {
    std::string w = "block migration: node-local disks of VMI " + key +
                    " will be copied to the target node along with its memory (" +
                    (bytes.disks_known ? "" : "at least ") + GiB(bytes.Total()) + " GiB to copy";
    if (!bytes.disks_known) w += "; some disk sizes are unknown";
    warnings.push_back(w + ")");
  }
  if (bytes.memory_known && cfg.completion_timeout_per_gib > 0) {
    int64_t timeout = CompletionTimeoutSeconds(bytes.Total(), cfg.completion_timeout_per_gib);
    int64_t gib = timeout / cfg.completion_timeout_per_gib;
    warnings.push_back(
        "the migration will be aborted if it runs longer than " + std::to_string(timeout) +
        "s (completionTimeoutPerGiB=" + std::to_string(cfg.completion_timeout_per_gib) + " x " +
        std::to_string(gib) + " GiB)");
  }
}

AdmissionDecision DecideCreate(const AdmissionInput& in) {
  std::vector<Cause> causes;
  std::vector<std::string> warnings;
  const VMIM& m = *in.object;
  const std::string ns = m.meta.namespace_.empty() ? in.namespace_ : m.meta.namespace_;
  const std::string self_key = m.meta.name.empty() ? "" : ns + "/" + m.meta.name;

  CheckCreateSpec(m, causes);
  if (!in.kubevirt_found) {
    causes.push_back({std::string(kCauseFeatureGateDisabled),
                      "LiveMigration feature gate is not enabled: no KubeVirt resource was found",
                      ""});
  } else if (!in.config.LiveMigrationEnabled()) {
    causes.push_back({std::string(kCauseFeatureGateDisabled),
                      "LiveMigration feature gate is not enabled in the KubeVirt resource "
                      "(spec.configuration.developerConfiguration.featureGates)",
                      ""});
  }

  const VMI* vmi = nullptr;
  const std::string vmi_key = ns + "/" + m.spec.vmi_name;
  const bool name_ok = IsDns1123Subdomain(m.spec.vmi_name);
  if (name_ok) {
    vmi = in.vmi;
    if (vmi == nullptr && in.vmi_lookup) vmi = in.vmi_lookup(ns, m.spec.vmi_name);
    if (vmi == nullptr && !in.vmi_unreadable.empty()) {
      causes.push_back({std::string(kCauseVMIUnreadable),
                        "VMI " + vmi_key + " exists but cannot be read: " + in.vmi_unreadable,
                        "spec.vmiName"});
    } else if (vmi == nullptr) {
      causes.push_back(
          {std::string(kCauseVMINotFound), "VMI " + vmi_key + " does not exist", "spec.vmiName"});
    } else if (vmi->IsFinal()) {
      causes.push_back(
          {std::string(kCauseVMIFinal),
           "VMI " + vmi_key + " is in final phase " + vmi->status.phase + " and cannot be migrated",
           "spec.vmiName"});
    } else if (!vmi->IsRunning()) {
      causes.push_back({std::string(kCauseVMINotRunning),
                        "VMI " + vmi_key + " is not running (" + PhaseText(vmi->status.phase) + ")",
                        "spec.vmiName"});
    }
    if (vmi != nullptr && vmi->IsRunning() && !vmi->status.node_name.empty()) {
      // A migration to the node the VMI runs on can only wait for a target
      // until it fails: refused here, with the reason.
      auto host = m.spec.added_node_selector.find("kubernetes.io/hostname");
      if (host != m.spec.added_node_selector.end() && host->second == vmi->status.node_name) {
        causes.push_back({std::string(kCauseTargetIsSource),
                          "VMI " + vmi_key + " already runs on node " + Quote(host->second) +
                              ": spec.addedNodeSelector kubernetes.io/hostname must name another "
                              "node",
                          "spec.addedNodeSelector[kubernetes.io/hostname]"});
      }
    }
    if (vmi != nullptr && !vmi->IsFinal())
      CheckMigratable(*vmi, vmi_key, in.pvc_lookup, causes, warnings);

    std::vector<const VMIM*> same =
        InFlightForVMI(in.vmims, ns, m.spec.vmi_name, m.meta.uid, self_key);
    if (!same.empty()) {
      std::string list;
      for (const VMIM* o : same) {
        if (!list.empty()) list += ", ";
        list += o->meta.namespace_ + "/" + o->meta.name + " (" +
                PhaseText(PhaseName(o->status.phase)) + ")";
      }
      causes.push_back({std::string(kCauseMigrationInFlight),
                        "in-flight migration detected: VMI " + vmi_key +
                            " already has a migration that is not "
                            "finished: " +
                            list,
                        "spec.vmiName"});
    }
  }

  const MigrationConfig& cfg = in.config.migrations;
  InFlightCounts counts = CountInFlight(in.vmims, in.vmi_lookup, m.meta.uid, self_key);
  if (counts.cluster >= cfg.parallel_migrations_per_cluster) {
    const std::string limit = std::to_string(cfg.parallel_migrations_per_cluster);
    causes.push_back({std::string(kCauseClusterLimitReached),
                      "cluster has " + std::to_string(counts.cluster) + "/" + limit +
                          " migrations in flight (parallelMigrationsPerCluster=" + limit + "); " +
                          HeldBy(InFlightHolders(in.vmims, in.vmi_lookup, "", m.meta.uid,
                                                 self_key)) +
                          "retry when one finishes",
                      ""});
  }
  if (vmi != nullptr && !vmi->status.node_name.empty()) {
    const std::string& node = vmi->status.node_name;
    int outbound = counts.Outbound(node);
    if (outbound >= cfg.parallel_outbound_migrations_per_node) {
      const std::string limit = std::to_string(cfg.parallel_outbound_migrations_per_node);
      causes.push_back({std::string(kCauseNodeLimitReached),
                        "node " + node + " has " + std::to_string(outbound) + "/" + limit +
                            " outbound migrations in flight (parallelOutboundMigrationsPerNode=" +
                            limit + "); " +
                            HeldBy(InFlightHolders(in.vmims, in.vmi_lookup, node, m.meta.uid,
                                                   self_key)) +
                            "retry when one finishes",
                        ""});
    }
  }
  if (causes.empty() && vmi != nullptr) AddAdvice(*vmi, vmi_key, cfg, warnings);
  return Finish(std::move(causes), std::move(warnings));
}

AdmissionDecision DecideUpdate(const AdmissionInput& in) {
  std::vector<Cause> causes;
  const VMIM& now = *in.object;
  const VMIM& old = *in.old_object;
  if (now.spec.canonical_json != old.spec.canonical_json) {
    bool named = false;
    if (now.spec.vmi_name != old.spec.vmi_name) {
      causes.push_back({std::string(kCauseSpecImmutable),
                        "spec.vmiName is immutable: cannot change it from " +
                            Quote(old.spec.vmi_name) + " to " + Quote(now.spec.vmi_name),
                        "spec.vmiName"});
      named = true;
    }
    if (now.spec.added_node_selector != old.spec.added_node_selector) {
      causes.push_back({std::string(kCauseSpecImmutable), "spec.addedNodeSelector is immutable",
                        "spec.addedNodeSelector"});
      named = true;
    }
    if (!named) causes.push_back({std::string(kCauseSpecImmutable), "spec is immutable", "spec"});
  }
  if (!old.IsFinal()) {
    const std::string label(kLabelVMIName);
    auto old_it = old.meta.labels.find(label);
    if (old_it != old.meta.labels.end()) {
      const std::string field = "metadata.labels[" + label + "]";
      auto new_it = now.meta.labels.find(label);
      if (new_it == now.meta.labels.end()) {
        causes.push_back(
            {std::string(kCauseSelectorLabelImmutable),
             "label " + label + " must not be removed while the migration is not finished", field});
      } else if (new_it->second != old_it->second) {
        causes.push_back({std::string(kCauseSelectorLabelImmutable),
                          "label " + label +
                              " must not change while the migration is not finished (from " +
                              Quote(old_it->second) + " to " + Quote(new_it->second) + ")",
                          field});
      }
    }
  }
  return Finish(std::move(causes), {});
}

// ---------------------------------------------------------------- KubeVirt

struct Checker {
  std::vector<Cause> causes;

  void Add(const std::string& field, const std::string& problem) {
    causes.push_back({std::string(kCauseInvalidSpec), field + ": " + problem, field});
  }

  // The member as an object; records a cause when it has another type.
  const Value* Object(const Value& obj, const char* key, const std::string& path) {
    const Value* v = Member(obj, key);
    if (v == nullptr) return nullptr;
    if (!v->IsObject()) {
      Add(Join(path, key), std::string("must be an object, got ") + TypeName(*v));
      return nullptr;
    }
    return v;
  }

  void Integer(const Value& obj, const char* key, const std::string& path, int64_t max) {
    const Value* v = Member(obj, key);
    if (v == nullptr) return;
    const std::string field = Join(path, key);
    if (!v->IsNumber()) {
      Add(field, std::string("must be an integer, got ") + TypeName(*v));
    } else if (v->IsInt64()) {
      int64_t n = v->GetInt64();
      if (n <= 0) {
        Add(field, "must be > 0, got " + std::to_string(n));
      } else if (n > max) {
        Add(field, "must be <= " + std::to_string(max) + ", got " + std::to_string(n));
      }
    } else if (v->IsUint64()) {
      Add(field, "must be <= " + std::to_string(max) + ", got " + std::to_string(v->GetUint64()));
    } else {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", v->GetDouble());
      Add(field, std::string("must be an integer, got ") + buf);
    }
  }

  void Bool(const Value& obj, const char* key, const std::string& path) {
    const Value* v = Member(obj, key);
    if (v != nullptr && !v->IsBool())
      Add(Join(path, key), std::string("must be a boolean, got ") + TypeName(*v));
  }

  void Bandwidth(const Value& obj, const std::string& path) {
    const Value* v = Member(obj, "bandwidthPerMigration");
    if (v == nullptr) return;
    const std::string field = Join(path, "bandwidthPerMigration");
    auto q = ParseQuantityValue(*v, field);
    if (!q.ok()) {
      causes.push_back({std::string(kCauseInvalidSpec), q.status().message(), field});
    } else if (q->Sign() < 0) {
      Add(field, "must be >= 0 (0 means unlimited), got " + q->String());
    }
  }

  void MigrationConfig(const Value& mc, const std::string& path) {
    constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();
    constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
    Integer(mc, "parallelMigrationsPerCluster", path, kInt32Max);
    Integer(mc, "parallelOutboundMigrationsPerNode", path, kInt32Max);
    Bandwidth(mc, path);
    Integer(mc, "completionTimeoutPerGiB", path, kInt64Max);
    Integer(mc, "progressTimeout", path, kInt64Max);
    Bool(mc, "allowAutoConverge", path);
    Bool(mc, "allowPostCopy", path);
  }
};

void OverrideWarnings(const Value& conf, std::vector<std::string>& warnings) {
  const Value* old_cfg = Member(conf, "migrationConfiguration");
  const Value* new_cfg = Member(conf, "migrations");
  if (old_cfg == nullptr || new_cfg == nullptr) return;
  for (const auto& m : new_cfg->GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    const Value* o = Member(*old_cfg, key);
    if (o == nullptr || m.value.IsNull()) continue;
    auto a = CanonicalJson(*o);
    auto b = CanonicalJson(m.value);
    if (a.ok() && b.ok() && *a != *b) {
      warnings.push_back("spec.configuration.migrations." + std::string(key) + " (" + *b +
                         ") overrides spec.configuration.migrationConfiguration." +
                         std::string(key) + " (" + *a + ")");
    }
  }
}

}  // namespace

bool AdmissionDecision::HasCause(std::string_view reason) const {
  for (const Cause& c : causes) {
    if (c.reason == reason) return true;
  }
  return false;
}

AdmissionDecision DecideMigration(const AdmissionInput& in) {
  if (in.operation != "CREATE" && in.operation != "UPDATE") return AdmissionDecision{};
  std::vector<Cause> malformed;
  auto bad = [&](const char* which, const std::string& error) {
    malformed.push_back(
        {std::string(kCauseMalformedObject),
         std::string("cannot decode ") + which +
             " as a VirtualMachineInstanceMigration: " + (error.empty() ? "missing" : error),
         which});
  };
  if (!in.object) bad("object", in.object_error);
  if (in.operation == "UPDATE" && !in.old_object) bad("oldObject", in.old_object_error);
  if (!malformed.empty()) return Finish(std::move(malformed), {});
  return in.operation == "CREATE" ? DecideCreate(in) : DecideUpdate(in);
}

KubeVirtValidation ValidateKubeVirt(std::string_view json) {
  rapidjson::Document doc;
  base::Status s = json_internal::ParseText(json, doc);
  if (!s.ok()) {
    return Finish({{std::string(kCauseMalformedObject),
                    "cannot decode the KubeVirt object: " + s.message(), ""}},
                  {});
  }
  return ValidateKubeVirt(static_cast<const Value&>(doc));
}

KubeVirtValidation ValidateKubeVirt(const Value& object) {
  if (!object.IsObject()) {
    return Finish(
        {{std::string(kCauseMalformedObject),
          std::string("the KubeVirt object must be a JSON object, got ") + TypeName(object), ""}},
        {});
  }
  Checker c;
  const Value* api_version = Member(object, "apiVersion");
  if (api_version != nullptr &&
      !(api_version->IsString() &&
        (std::string_view(api_version->GetString()) == "kubevirt.io/v1" ||
         std::string_view(api_version->GetString()) == "kubevirt.io/v1alpha3"))) {
    c.Add("apiVersion", "must be kubevirt.io/v1 or kubevirt.io/v1alpha3");
  }
  const Value* kind = Member(object, "kind");
  if (kind != nullptr && !(kind->IsString() && std::string_view(kind->GetString()) == "KubeVirt")) {
    c.Add("kind", "must be KubeVirt");
  }
  c.Object(object, "metadata", "");
  const Value* conf = nullptr;
  if (const Value* spec = c.Object(object, "spec", ""))
    conf = c.Object(*spec, "configuration", "spec");
  if (conf != nullptr) {
    const std::string cp = "spec.configuration";
    if (const Value* dev = c.Object(*conf, "developerConfiguration", cp)) {
      const std::string dp = cp + ".developerConfiguration";
      const Value* gates = Member(*dev, "featureGates");
      if (gates != nullptr && !gates->IsArray()) {
        c.Add(dp + ".featureGates",
              std::string("must be an array of strings, got ") + TypeName(*gates));
      } else if (gates != nullptr) {
        for (rapidjson::SizeType i = 0; i < gates->Size(); ++i) {
          if (!(*gates)[i].IsString()) {
            c.Add(json_internal::Index(dp + ".featureGates", i),
                  std::string("must be a string, got ") + TypeName((*gates)[i]));
          }
        }
      }
    }
    for (const char* key : {"migrationConfiguration", "migrations"}) {
      if (const Value* mc = c.Object(*conf, key, cp)) c.MigrationConfig(*mc, Join(cp, key));
    }
  }
  std::vector<std::string> warnings;
  if (c.causes.empty()) {
    auto kv = ParseKubeVirt(object);
    if (!kv.ok()) {
      // The checks above cover every field ParseKubeVirt reads; keep the two in
      // step rather than admitting an object our own readers would reject.
      c.causes.push_back({std::string(kCauseInvalidSpec), kv.status().message(), ""});
    } else {
      const MigrationConfig& m = kv->config.migrations;
      if (m.parallel_outbound_migrations_per_node > m.parallel_migrations_per_cluster) {
        warnings.push_back("parallelOutboundMigrationsPerNode (" +
                           std::to_string(m.parallel_outbound_migrations_per_node) +
                           ") exceeds parallelMigrationsPerCluster (" +
                           std::to_string(m.parallel_migrations_per_cluster) +
                           "): the cluster limit applies first");
      }
      if (conf != nullptr) OverrideWarnings(*conf, warnings);
    }
  }
  return Finish(std::move(c.causes), std::move(warnings));
}

}  // namespace api
