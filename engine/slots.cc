#include "engine/slots.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>

#include "api/names.h"
#include "base/log.h"
#include "engine/resources.h"

namespace engine {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::string_view kClusterPrefix = "migration-slot-cluster-";
constexpr std::string_view kNodePrefix = "migration-slot-node-";
// 253 (a subdomain's maximum) - the prefix - '-' - 10 digits of an index.
constexpr size_t kMaxNodePart = 253 - kNodePrefix.size() - 1 - 10;
constexpr size_t kHashDigits = 16;
constexpr size_t kMaxNamedHolders = 10;

void Key(Writer& w, std::string_view k) {
  w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
}
void Str(Writer& w, std::string_view v) {
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}

// FNV-1a, 64 bits: only to keep long node names apart, not against an
// adversary (naming nodes already takes cluster-admin rights).
uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

bool IsRetryableWrite(const base::Status& s) {
  // Aborted: 409 Conflict, someone wrote the slot since we read it;
  // AlreadyExists: someone created it first; NotFound: deleted meanwhile.
  return s.code() == base::Code::kAborted || s.code() == base::Code::kAlreadyExists ||
         s.code() == base::Code::kNotFound;
}

std::string HolderName(const SlotHolder& h) { return h.vmim.empty() ? "uid " + h.uid : h.vmim; }

}  // namespace

std::string ClusterSlotName(int64_t index) {
  return std::string(kClusterPrefix) + std::to_string(index);
}

std::string NodeSlotName(std::string_view node, int64_t index) {
  std::string part;
  if (node.size() <= kMaxNodePart) {
    part = std::string(node);
  } else {
    // A cut subdomain ends where a dot-separated part may end in '-' or '.';
    // trimming keeps the '-' before the hash a valid join.
    part = std::string(node.substr(0, kMaxNodePart - 1 - kHashDigits));
    while (!part.empty() && (part.back() == '-' || part.back() == '.')) part.pop_back();
    char hex[kHashDigits + 1];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(Fnv1a64(node)));
    part += "-";
    part += hex;
  }
  return std::string(kNodePrefix) + part + "-" + std::to_string(index);
}

SlotHolder ParseSlotLease(const kube::Object& lease) {
  SlotHolder h;
  h.slot = lease.name;
  if (auto holder = kube::StringField(lease, "spec.holderIdentity")) h.uid = *holder;
  if (h.uid.empty()) return h;
  if (auto it = lease.annotations.find(std::string(kAnnotationSlotVMIM));
      it != lease.annotations.end()) {
    h.vmim = it->second;
  }
  if (auto it = lease.annotations.find(std::string(kAnnotationSlotEngineNode));
      it != lease.annotations.end()) {
    h.engine_node = it->second;
  }
  if (auto t = kube::StringField(lease, "spec.acquireTime"))
    h.acquire_time = base::ParseRfc3339(*t);
  return h;
}

std::string SlotLeaseJson(std::string_view name, std::string_view ns, const SlotHolder* holder,
                          std::string_view resource_version) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  Key(w, "apiVersion");
  Str(w, "coordination.k8s.io/v1");
  Key(w, "kind");
  Str(w, "Lease");
  Key(w, "metadata");
  w.StartObject();
  Key(w, "name");
  Str(w, name);
  Key(w, "namespace");
  Str(w, ns);
  if (!resource_version.empty()) {
    Key(w, "resourceVersion");
    Str(w, resource_version);
  }
  Key(w, "labels");
  w.StartObject();
  Key(w, kLabelMigrationSlot);
  Str(w, "true");
  w.EndObject();
  if (holder != nullptr) {
    Key(w, "annotations");
    w.StartObject();
    Key(w, kAnnotationSlotVMIM);
    Str(w, holder->vmim);
    Key(w, kAnnotationSlotEngineNode);
    Str(w, holder->engine_node);
    w.EndObject();
  }
  w.EndObject();
  Key(w, "spec");
  w.StartObject();
  if (holder != nullptr) {
    Key(w, "holderIdentity");
    Str(w, holder->uid);
    if (holder->acquire_time) {
      Key(w, "acquireTime");
      Str(w, base::FormatRfc3339Micro(*holder->acquire_time));
    }
  }
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

bool HolderAlive(const SlotHolder& holder, const api::VMIM* vmim, const EngineNode* engine,
                 std::chrono::system_clock::time_point now) {
  if (vmim == nullptr || vmim->meta.uid != holder.uid || vmim->IsFinal()) return false;
  return engine != nullptr && IsFresh(*engine, now);
}

std::string SlotsBlockedMessage(const SlotsBlocked& b) {
  std::string what = b.limit_name == kLimitPerNode
                         ? "outbound migrations from " + (b.node.empty() ? "the node" : b.node)
                         : std::string("migrations in the cluster");
  std::string m = "waiting for a migration slot: " + std::to_string(b.in_use) + " of " +
                  std::to_string(b.limit) + " " + what + " are in use (";
  for (size_t i = 0; i < b.holders.size() && i < kMaxNamedHolders; ++i) {
    if (i > 0) m += ", ";
    m += b.holders[i];
  }
  if (b.holders.size() > kMaxNamedHolders) {
    m += " and " + std::to_string(b.holders.size() - kMaxNamedHolders) + " more";
  }
  if (!b.holders.empty()) m += "; ";
  m += b.limit_name + ")";
  return m;
}

SlotManager::SlotManager(kube::Api* api, base::Clock* clock, Options options)
    : api_(api), clock_(clock), options_(std::move(options)) {}

SlotManager::Kind SlotManager::NodeKind(const std::string& node) const {
  return Kind{std::string(kLimitPerNode), node,
              [node](int64_t i) { return NodeSlotName(node, i); }};
}

SlotManager::Kind SlotManager::ClusterKind() const {
  return Kind{std::string(kLimitPerCluster), "", [](int64_t i) { return ClusterSlotName(i); }};
}

base::StatusOr<std::vector<SlotManager::Slot>> SlotManager::ReadAll(const Kind& kind) {
  // The slot Leases of a kind form a prefix 0..n-1 (see the header): probe up
  // to the first missing one.
  std::vector<Slot> slots;
  for (int64_t i = 0; i < options_.max_slots; ++i) {
    Slot s;
    s.index = i;
    s.name = kind.name(i);
    auto got = api_->Get(kLeases, options_.ns, s.name, "");
    if (got.status().code() == base::Code::kNotFound) break;
    if (!got.ok()) return got.status();
    s.resource_version = got->resource_version;
    s.holder = ParseSlotLease(*got);
    slots.push_back(std::move(s));
  }
  return slots;
}

base::StatusOr<SlotManager::TakeResult> SlotManager::Take(const Kind& kind, int64_t limit,
                                                          const SlotRequest& request,
                                                          const HolderLiveness& alive, bool* took) {
  *took = false;
  SlotHolder me;
  me.uid = request.vmim_uid;
  me.vmim = request.vmim_key;
  me.engine_node = request.source_node;
  for (int round = 0; round < options_.max_rounds; ++round) {
    auto read = ReadAll(kind);
    if (!read.ok()) return read.status();
    const std::vector<Slot>& slots = *read;
    for (const Slot& s : slots) {
      if (s.holder.uid == request.vmim_uid) return TakeResult(s.name);
    }
    std::vector<bool> live(slots.size());
    int64_t live_above = 0;  // H: live holders at indexes >= limit
    for (size_t i = 0; i < slots.size(); ++i) {
      live[i] = !slots[i].holder.uid.empty() && alive(slots[i].holder);
      if (live[i] && slots[i].index >= limit) ++live_above;
    }
    const int64_t capacity = limit - live_above;
    bool contended = false;
    auto attempt = [&](const base::StatusOr<kube::Object>& r) -> std::optional<base::Status> {
      if (r.ok()) return base::Status::Ok();
      if (IsRetryableWrite(r.status())) {
        contended = true;
        return std::nullopt;
      }
      return r.status();
    };
    // A free, absent or dead holder's slot below the capacity, by Update
    // conditional on what was read (a dead holder is never "refreshed" into
    // a live one by someone else without changing the resourceVersion).
    for (size_t i = 0; i < slots.size(); ++i) {
      if (slots[i].index >= capacity || live[i]) continue;
      me.slot = slots[i].name;
      me.acquire_time = clock_->WallNow();
      auto r = attempt(
          api_->Update(kLeases, options_.ns, slots[i].name,
                       SlotLeaseJson(slots[i].name, options_.ns, &me, slots[i].resource_version),
                       kube::UpdateOptions{}));
      if (!r) continue;
      if (!r->ok()) return *r;
      *took = true;
      return TakeResult(slots[i].name);
    }
    // Then new Leases at the end of the prefix. Index n+1 is created only
    // after n turned out to exist (AlreadyExists), so the prefix stays whole.
    for (int64_t n = static_cast<int64_t>(slots.size()); n < capacity && n < options_.max_slots;
         ++n) {
      me.slot = kind.name(n);
      me.acquire_time = clock_->WallNow();
      auto r =
          attempt(api_->Create(kLeases, options_.ns, SlotLeaseJson(me.slot, options_.ns, &me, ""),
                               kube::CreateOptions{}));
      if (!r) continue;
      if (!r->ok()) return *r;
      *took = true;
      return TakeResult(me.slot);
    }
    if (contended) continue;  // others were first: read again
    SlotsBlocked b;
    b.limit_name = kind.limit_name;
    b.node = kind.node;
    b.limit = limit;
    for (size_t i = 0; i < slots.size(); ++i) {
      if (!live[i]) continue;
      ++b.in_use;
      b.holders.push_back(HolderName(slots[i].holder));
    }
    b.message = SlotsBlockedMessage(b);
    return TakeResult(std::move(b));
  }
  return base::Aborted("migration slots (" + kind.limit_name +
                       "): every free slot was taken by another migration first, " +
                       std::to_string(options_.max_rounds) + " times; retry");
}

base::StatusOr<AcquireResult> SlotManager::Acquire(const SlotRequest& request,
                                                   const HolderLiveness& alive) {
  if (request.vmim_uid.empty()) return base::InvalidArgument("migration slot: empty VMIM uid");
  if (!api::IsDns1123Subdomain(request.source_node)) {
    return base::InvalidArgument("migration slot: source node \"" + request.source_node +
                                 "\" is not a DNS-1123 subdomain");
  }
  if (request.per_node_limit < 1 || request.per_cluster_limit < 1) {
    return base::InvalidArgument(
        "migration slot: limits must be at least 1 (" + std::string(kLimitPerNode) + "=" +
        std::to_string(request.per_node_limit) + ", " + std::string(kLimitPerCluster) + "=" +
        std::to_string(request.per_cluster_limit) + ")");
  }
  bool took_node = false;
  auto node =
      Take(NodeKind(request.source_node), request.per_node_limit, request, alive, &took_node);
  if (!node.ok()) return node.status();
  if (auto* blocked = std::get_if<SlotsBlocked>(&*node)) return AcquireResult(std::move(*blocked));
  const std::string node_slot = std::get<std::string>(*node);

  bool took_cluster = false;
  auto cluster = Take(ClusterKind(), request.per_cluster_limit, request, alive, &took_cluster);
  if (cluster.ok() && std::holds_alternative<std::string>(*cluster)) {
    return AcquireResult(SlotsAcquired{node_slot, std::get<std::string>(*cluster)});
  }
  // Waiting (or failing) while holding a node slot would block other
  // migrations from the node for no work: give back the one taken here.
  if (took_node) {
    base::Status freed = FreeOne(node_slot, request.vmim_uid);
    if (!freed.ok()) {
      base::log::Warning(
          "migration slot not given back; it is freed when the VMIM is",
          {{"slot", options_.ns + "/" + node_slot}, {"vmim", request.vmim_key}, {"error", freed}});
    }
  }
  if (!cluster.ok()) return cluster.status();
  return AcquireResult(std::get<SlotsBlocked>(std::move(*cluster)));
}

base::Status SlotManager::FreeOne(const std::string& name, std::string_view uid) {
  for (int round = 0; round < options_.max_rounds; ++round) {
    auto got = api_->Get(kLeases, options_.ns, name, "");
    if (got.status().code() == base::Code::kNotFound) return base::Status::Ok();
    if (!got.ok()) return got.status();
    if (ParseSlotLease(*got).uid != uid) return base::Status::Ok();  // not (any more) ours
    auto put = api_->Update(kLeases, options_.ns, name,
                            SlotLeaseJson(name, options_.ns, nullptr, got->resource_version),
                            kube::UpdateOptions{});
    if (put.ok() || put.status().code() == base::Code::kNotFound) return base::Status::Ok();
    if (put.status().code() != base::Code::kAborted) return put.status();
  }
  return base::Aborted("migration slot " + name + ": still changing after " +
                       std::to_string(options_.max_rounds) + " attempts to release it");
}

base::Status SlotManager::Release(std::string_view vmim_uid, std::string_view source_node) {
  if (vmim_uid.empty()) return base::InvalidArgument("migration slot: empty VMIM uid");
  std::vector<Kind> kinds{ClusterKind()};
  if (!source_node.empty()) {
    if (!api::IsDns1123Subdomain(source_node)) {
      return base::InvalidArgument("migration slot: source node \"" + std::string(source_node) +
                                   "\" is not a DNS-1123 subdomain");
    }
    kinds.push_back(NodeKind(std::string(source_node)));
  }
  base::Status first;
  auto note = [&first](base::Status s) {
    if (!s.ok() && first.ok()) first = std::move(s);
  };
  for (const Kind& kind : kinds) {
    auto slots = ReadAll(kind);
    if (!slots.ok()) {
      note(slots.status());
      continue;
    }
    for (const Slot& s : *slots) {
      if (s.holder.uid != vmim_uid) continue;
      // First with the version just read; on a conflict FreeOne re-reads.
      auto put = api_->Update(kLeases, options_.ns, s.name,
                              SlotLeaseJson(s.name, options_.ns, nullptr, s.resource_version),
                              kube::UpdateOptions{});
      if (put.ok() || put.status().code() == base::Code::kNotFound) continue;
      if (put.status().code() == base::Code::kAborted) {
        note(FreeOne(s.name, vmim_uid));
      } else {
        note(put.status());
      }
    }
  }
  return first;
}

}  // namespace engine
