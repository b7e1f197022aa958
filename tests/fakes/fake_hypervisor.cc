#include "tests/fakes/fake_hypervisor.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <utility>

namespace engine::testing {

namespace {

// The text of the first <tag ...>text</tag>, and the opening tag itself (for
// attributes). A test double's reader, not an XML parser: enough for the
// domain XML tests write.
struct Element {
  std::string open;
  std::string text;
};

std::optional<Element> Find(const std::string& xml, const std::string& tag) {
  size_t pos = 0;
  for (;;) {
    pos = xml.find("<" + tag, pos);
    if (pos == std::string::npos) return std::nullopt;
    const char next = pos + 1 + tag.size() < xml.size() ? xml[pos + 1 + tag.size()] : '\0';
    if (next == '>' || next == ' ' || next == '/') break;
    pos += 1;
  }
  const size_t open_end = xml.find('>', pos);
  if (open_end == std::string::npos) return std::nullopt;
  Element e;
  e.open = xml.substr(pos, open_end + 1 - pos);
  if (xml[open_end - 1] == '/') return e;
  const size_t close = xml.find("</" + tag + ">", open_end);
  if (close == std::string::npos) return std::nullopt;
  e.text = xml.substr(open_end + 1, close - open_end - 1);
  return e;
}

std::string Attribute(const std::string& open, const std::string& name) {
  for (const char quote : {'\'', '"'}) {
    const std::string key = name + "=" + quote;
    const size_t pos = open.find(key);
    if (pos == std::string::npos) continue;
    const size_t end = open.find(quote, pos + key.size());
    if (end == std::string::npos) return "";
    return open.substr(pos + key.size(), end - pos - key.size());
  }
  return "";
}

uint64_t UnitBytes(const std::string& unit) {
  if (unit.empty() || unit == "KiB" || unit == "k" || unit == "K") return 1024;
  if (unit == "b" || unit == "bytes") return 1;
  if (unit == "KB") return 1000;
  if (unit == "MiB" || unit == "M" || unit == "m") return 1024 * 1024;
  if (unit == "MB") return 1000 * 1000;
  if (unit == "GiB" || unit == "G" || unit == "g") return 1024ull * 1024 * 1024;
  if (unit == "GB") return 1000ull * 1000 * 1000;
  return 1024;
}

uint64_t ToNumber(const std::string& s) {
  uint64_t v = 0;
  for (char ch : s) {
    if (ch == ' ' || ch == '\n' || ch == '\t') continue;
    if (ch < '0' || ch > '9') return 0;
    v = v * 10 + static_cast<uint64_t>(ch - '0');
  }
  return v;
}

std::string UuidFor(const std::string& name) {
  const uint64_t a = std::hash<std::string>()(name);
  const uint64_t b = std::hash<std::string>()(name + "#fake");
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffull));
  return buf;
}

std::string MinimalXml(const DomainInfo& info) {
  return "<domain type='kvm'><name>" + info.name + "</name><uuid>" + info.uuid +
         "</uuid><memory unit='KiB'>" + std::to_string(info.memory_bytes / 1024) +
         "</memory><vcpu>" + std::to_string(info.vcpus) + "</vcpu></domain>";
}

FakeHypervisor::Call MakeCall(FakeHypervisor::Method method, const std::string& domain) {
  FakeHypervisor::Call call;
  call.method = method;
  call.domain = domain;
  return call;
}

DomainEvent Lifecycle(const std::string& name, int event, int detail) {
  DomainEvent e;
  e.kind = DomainEvent::Kind::kLifecycle;
  e.domain = name;
  e.lifecycle = event;
  e.detail = detail;
  return e;
}

}  // namespace

void FakeFabric::Register(const std::string& uri, FakeHypervisor* hypervisor) {
  std::lock_guard<std::mutex> l(mu_);
  by_uri_[uri] = hypervisor;
}

void FakeFabric::Unregister(const std::string& uri) {
  std::lock_guard<std::mutex> l(mu_);
  by_uri_.erase(uri);
}

FakeHypervisor* FakeFabric::Find(const std::string& uri) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = by_uri_.find(uri);
  return it == by_uri_.end() ? nullptr : it->second;
}

const char* FakeHypervisor::MethodName(Method method) {
  switch (method) {
    case Method::kLookup: return "Lookup";
    case Method::kList: return "List";
    case Method::kDefine: return "Define";
    case Method::kStart: return "Start";
    case Method::kStop: return "Stop";
    case Method::kUndefine: return "Undefine";
    case Method::kGetXml: return "GetXml";
    case Method::kMigrate: return "Migrate";
    case Method::kGetJobStats: return "GetJobStats";
    case Method::kAbortJob: return "AbortJob";
    case Method::kMeasureDirtyRate: return "MeasureDirtyRate";
    case Method::kStartPostCopy: return "StartPostCopy";
    case Method::kSetMaxDowntime: return "SetMaxDowntime";
    case Method::kSetMaxSpeed: return "SetMaxSpeed";
  }
  return "Unknown";
}

FakeHypervisor::FakeHypervisor() : FakeHypervisor(Options()) {}

FakeHypervisor::FakeHypervisor(Options options)
    : options_(std::move(options)),
      clock_(options_.clock != nullptr ? options_.clock : base::RealClock()) {
  if (options_.fabric != nullptr) options_.fabric->Register(options_.uri, this);
}

FakeHypervisor::~FakeHypervisor() {
  if (options_.fabric != nullptr) options_.fabric->Unregister(options_.uri);
  // A Migrate() still blocked would wait on a destroyed object: end its job
  // and wait until every such call has returned.
  std::unique_lock<std::mutex> l(mu_);
  for (auto& [name, job] : jobs_) {
    job->done = true;
    job->result = base::Aborted("fake hypervisor destroyed during the migration");
  }
  jobs_.clear();
  cv_.notify_all();
  cv_.wait(l, [this] { return migrate_calls_in_flight_ == 0; });
}

std::optional<base::Status> FakeHypervisor::RecordLocked(Call call) {
  call.at = clock_->Now();
  const Method method = call.method;
  calls_.push_back(std::move(call));
  cv_.notify_all();
  auto it = failures_.find(method);
  if (it == failures_.end()) return std::nullopt;
  base::Status status = it->second.status;
  if (it->second.times > 0 && --it->second.times == 0) failures_.erase(it);
  return status;
}

base::Status FakeHypervisor::Lost(const std::string& name) const {
  return base::NotFound("Domain not found: no domain with matching name '" + name + "'");
}

FakeHypervisor* FakeHypervisor::TargetFor(const std::string& dest_uri) const {
  if (options_.fabric != nullptr) {
    if (FakeHypervisor* t = options_.fabric->Find(dest_uri)) return t;
  }
  return target_;
}

void FakeHypervisor::EmitAll(const std::vector<DomainEvent>& events) {
  if (events.empty()) return;
  std::lock_guard<std::mutex> l(handler_mu_);
  if (!handler_) return;
  for (const DomainEvent& e : events) handler_(e);
}

void FakeHypervisor::Emit(const DomainEvent& event) { EmitAll({event}); }

void FakeHypervisor::SetEventHandler(EventHandler handler) {
  std::lock_guard<std::mutex> l(handler_mu_);
  handler_ = std::move(handler);
}

// --- Setup ---

void FakeHypervisor::AddDomain(DomainInfo info, std::string xml) {
  if (info.uuid.empty()) info.uuid = UuidFor(info.name);
  if (xml.empty()) xml = MinimalXml(info);
  std::lock_guard<std::mutex> l(mu_);
  Dom& d = domains_[info.name];
  d.info = std::move(info);
  d.xml = std::move(xml);
}

void FakeHypervisor::LinkTarget(FakeHypervisor* target) {
  std::lock_guard<std::mutex> l(mu_);
  target_ = target;
}

void FakeHypervisor::SetDirtyRate(const std::string& name, uint64_t bytes_per_second) {
  std::lock_guard<std::mutex> l(mu_);
  dirty_rates_[name] = bytes_per_second;
}

void FakeHypervisor::SetMigrationScript(const std::string& name, MigrationScript script) {
  std::lock_guard<std::mutex> l(mu_);
  scripts_[name] = std::move(script);
}

void FakeHypervisor::SetDefaultMigrationScript(MigrationScript script) {
  std::lock_guard<std::mutex> l(mu_);
  default_script_ = std::move(script);
}

void FakeHypervisor::FailNext(Method method, base::Status status, int times) {
  std::lock_guard<std::mutex> l(mu_);
  if (times == 0) {
    failures_.erase(method);
    return;
  }
  failures_[method] = Failure{std::move(status), times};
}

void FakeHypervisor::ClearFailures() {
  std::lock_guard<std::mutex> l(mu_);
  failures_.clear();
}

// --- Domains ---

base::StatusOr<DomainInfo> FakeHypervisor::Lookup(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  if (auto f = RecordLocked(MakeCall(Method::kLookup, name))) return *f;
  auto it = domains_.find(name);
  if (it == domains_.end()) return Lost(name);
  return it->second.info;
}

base::StatusOr<std::vector<DomainInfo>> FakeHypervisor::List() {
  std::lock_guard<std::mutex> l(mu_);
  if (auto f = RecordLocked(MakeCall(Method::kList, ""))) return *f;
  std::vector<DomainInfo> out;
  out.reserve(domains_.size());
  for (const auto& [name, d] : domains_) out.push_back(d.info);
  return out;
}

base::Status FakeHypervisor::Define(const std::string& xml) {
  std::vector<DomainEvent> events;
  {
    std::lock_guard<std::mutex> l(mu_);
    Call call = MakeCall(Method::kDefine, "");
    call.xml = xml;
    if (auto f = RecordLocked(std::move(call))) return *f;
    auto name = Find(xml, "name");
    if (!name || name->text.empty()) {
      return base::InvalidArgument("XML error: missing domain name");
    }
    const std::string uuid = [&] {
      auto u = Find(xml, "uuid");
      return u && !u->text.empty() ? u->text : UuidFor(name->text);
    }();
    for (const auto& [other, d] : domains_) {
      // libvirt's wording and code (VIR_ERR_OPERATION_FAILED, hence Internal).
      if (other == name->text && d.info.uuid != uuid) {
        return base::Internal("operation failed: domain '" + other + "' already exists with uuid " +
                              d.info.uuid);
      }
      if (other != name->text && d.info.uuid == uuid) {
        return base::Internal("operation failed: domain '" + other + "' already exists with uuid " +
                              uuid);
      }
    }
    auto [it, added] = domains_.try_emplace(name->text);
    Dom& d = it->second;
    if (added) {
      d.info.name = name->text;
      d.info.state = DomainState::kShutoff;
    }
    d.info.uuid = uuid;
    d.info.persistent = true;
    if (auto mem = Find(xml, "memory")) {
      d.info.memory_bytes = ToNumber(mem->text) * UnitBytes(Attribute(mem->open, "unit"));
    }
    if (auto vcpu = Find(xml, "vcpu")) d.info.vcpus = static_cast<unsigned>(ToNumber(vcpu->text));
    d.xml = xml;
    events.push_back(Lifecycle(name->text, DomainEvent::kDefined, added ? 0 : 1));
  }
  EmitAll(events);
  return base::Status::Ok();
}

base::Status FakeHypervisor::Start(const std::string& name) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (auto f = RecordLocked(MakeCall(Method::kStart, name))) return *f;
    auto it = domains_.find(name);
    if (it == domains_.end()) return Lost(name);
    if (it->second.info.state == DomainState::kRunning ||
        it->second.info.state == DomainState::kPaused) {
      return base::FailedPrecondition(
          "Requested operation is not valid: domain is already running");
    }
    it->second.info.state = DomainState::kRunning;
    it->second.info.state_reason = 1;  // VIR_DOMAIN_RUNNING_BOOTED
  }
  Emit(Lifecycle(name, DomainEvent::kStarted, DomainEvent::kStartedBooted));
  return base::Status::Ok();
}

base::Status FakeHypervisor::Stop(const std::string& name) {
  std::unique_lock<std::mutex> l(mu_);
  if (auto f = RecordLocked(MakeCall(Method::kStop, name))) return *f;
  auto it = domains_.find(name);
  if (it == domains_.end()) return Lost(name);
  if (it->second.info.state == DomainState::kShutoff) return base::Status::Ok();
  it->second.info.state = DomainState::kShutoff;
  it->second.info.state_reason = 2;  // VIR_DOMAIN_SHUTOFF_DESTROYED
  if (jobs_.count(name) != 0) {
    FinishLocked(l, name, base::Internal("domain is not running: destroyed during migration"));
  } else {
    l.unlock();
  }
  Emit(Lifecycle(name, DomainEvent::kStopped, DomainEvent::kStoppedDestroyed));
  return base::Status::Ok();
}

base::Status FakeHypervisor::Undefine(const std::string& name) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (auto f = RecordLocked(MakeCall(Method::kUndefine, name))) return *f;
    auto it = domains_.find(name);
    if (it == domains_.end()) return Lost(name);
    if (it->second.info.state == DomainState::kShutoff) {
      domains_.erase(it);
    } else {
      it->second.info.persistent = false;
    }
  }
  Emit(Lifecycle(name, DomainEvent::kUndefined, 0));
  return base::Status::Ok();
}

base::StatusOr<std::string> FakeHypervisor::GetXml(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  if (auto f = RecordLocked(MakeCall(Method::kGetXml, name))) return *f;
  auto it = domains_.find(name);
  if (it == domains_.end()) return Lost(name);
  return it->second.xml;
}

// --- Migration ---

base::Status FakeHypervisor::Migrate(const std::string& name, const MigrateParams& params) {
  std::unique_lock<std::mutex> l(mu_);
  Call call = MakeCall(Method::kMigrate, name);
  call.migrate = params;
  if (auto f = RecordLocked(std::move(call))) return *f;
  if (params.dest_uri.empty())
    return base::InvalidArgument("migration of " + name + ": no dest_uri");
  auto it = domains_.find(name);
  if (it == domains_.end()) return Lost(name);
  if (it->second.info.state != DomainState::kRunning) {
    return base::FailedPrecondition("Requested operation is not valid: domain is not running");
  }
  if (jobs_.count(name) != 0) {
    return base::Unavailable("Timeout: cannot acquire state change lock (held by migration job)");
  }
  FakeHypervisor* target = TargetFor(params.dest_uri);
  if (target == nullptr) {
    return base::Unavailable("unable to connect to server at '" + params.dest_uri + "'");
  }
  if (target == this) {
    return base::FailedPrecondition("Requested operation is not valid: migration to the same host");
  }
  auto job = std::make_shared<Job>();
  job->params = params;
  auto script = scripts_.find(name);
  if (script != scripts_.end()) {
    job->script = std::move(script->second);
    scripts_.erase(script);
  } else {
    job->script = default_script_;
  }
  if (job->script.steps.empty()) job->script.steps.push_back(JobStats());
  ApplyStepLocked(*job);
  if (params.max_downtime_ms) max_downtime_[name] = *params.max_downtime_ms;
  if (params.bandwidth_mib > 0) max_speed_[name] = params.bandwidth_mib;
  post_copy_[name] = false;
  jobs_[name] = job;
  ++migrate_calls_in_flight_;
  cv_.notify_all();
  cv_.wait(l, [&] { return job->done; });
  --migrate_calls_in_flight_;
  cv_.notify_all();
  return job->result;
}

void FakeHypervisor::ApplyStepLocked(Job& job) {
  job.current = job.script.steps[std::min(job.step, job.script.steps.size() - 1)];
  if (job.current.type == JobStats::Type::kNone) job.current.type = JobStats::Type::kUnbounded;
}

void FakeHypervisor::FinishLocked(std::unique_lock<std::mutex>& l, const std::string& name,
                                  base::Status result) {
  auto it = jobs_.find(name);
  std::shared_ptr<Job> job = it->second;
  jobs_.erase(it);

  JobStats final_stats = job->current;
  std::vector<DomainEvent> events;
  if (result.ok()) {
    final_stats.type = JobStats::Type::kCompleted;
    final_stats.has_downtime = true;
    final_stats.downtime_ms = job->script.downtime_ms;
    final_stats.data_processed = std::max(final_stats.data_processed, final_stats.data_total);
    final_stats.data_remaining = 0;
    final_stats.memory_processed = std::max(final_stats.memory_processed, final_stats.memory_total);
    final_stats.memory_remaining = 0;
    Dom moving = domains_[name];
    FakeHypervisor* target = TargetFor(job->params.dest_uri);
    // The target's lock is taken without ours: two fakes migrating to each
    // other at once must not deadlock.
    l.unlock();
    base::Status received =
        target != nullptr ? target->Receive(moving.info, moving.xml, final_stats)
                          : base::Unavailable("target " + job->params.dest_uri + " went away");
    l.lock();
    if (received.ok()) {
      domains_.erase(name);  // VIR_MIGRATE_UNDEFINE_SOURCE
      DomainEvent done;
      done.kind = DomainEvent::Kind::kJobCompleted;
      done.domain = name;
      done.stats = final_stats;
      events.push_back(Lifecycle(name, DomainEvent::kSuspended, DomainEvent::kSuspendedMigrated));
      events.push_back(done);
      events.push_back(Lifecycle(name, DomainEvent::kStopped, DomainEvent::kStoppedMigrated));
      events.push_back(Lifecycle(name, DomainEvent::kUndefined, 0));
    } else {
      result = received;
    }
  }
  if (!result.ok()) {
    // As libvirt 9.0 does (seen after an abort): a migration that did not
    // succeed leaves no completed statistics on the source.
    auto d = domains_.find(name);
    if (d != domains_.end()) d->second.completed.reset();
  }
  // Events first, then Migrate() returns: a test that saw Migrate() return has
  // also seen its events.
  l.unlock();
  EmitAll(events);
  l.lock();
  job->result = std::move(result);
  job->done = true;
  cv_.notify_all();
  l.unlock();
}

base::Status FakeHypervisor::Receive(const DomainInfo& info, const std::string& xml,
                                     const JobStats& stats) {
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = domains_.find(info.name);
    if (it != domains_.end() && it->second.info.state != DomainState::kShutoff) {
      return base::AlreadyExists("domain '" + info.name + "' is already active on " + uri());
    }
    Dom& d = domains_[info.name];
    d.info = info;
    d.info.state = DomainState::kRunning;
    d.info.state_reason = 2;   // VIR_DOMAIN_RUNNING_MIGRATED
    d.info.persistent = true;  // VIR_MIGRATE_PERSIST_DEST
    d.xml = xml;
    d.completed = stats;
  }
  EmitAll({Lifecycle(info.name, DomainEvent::kStarted, DomainEvent::kStartedMigrated),
           Lifecycle(info.name, DomainEvent::kResumed, DomainEvent::kResumedMigrated)});
  return base::Status::Ok();
}

base::StatusOr<JobStats> FakeHypervisor::GetJobStats(const std::string& name, bool completed) {
  std::unique_lock<std::mutex> l(mu_);
  Call call = MakeCall(Method::kGetJobStats, name);
  call.completed = completed;
  if (auto f = RecordLocked(std::move(call))) return *f;
  auto d = domains_.find(name);
  if (d == domains_.end()) return Lost(name);
  if (completed) {
    // libvirt drops the completed job's statistics once read.
    JobStats stats = d->second.completed.value_or(JobStats());
    d->second.completed.reset();
    return stats;
  }
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return JobStats();
  Job& job = *it->second;
  JobStats stats = job.current;
  if (job.script.advance_on_read) {
    if (job.step + 1 < job.script.steps.size()) {
      ++job.step;
      ApplyStepLocked(job);
    } else if (job.script.end == MigrationScript::End::kComplete) {
      FinishLocked(l, name, base::Status::Ok());
    } else if (job.script.end == MigrationScript::End::kFail) {
      FinishLocked(l, name, job.script.failure);
    }
  }
  return stats;
}

base::Status FakeHypervisor::AbortJob(const std::string& name) {
  std::unique_lock<std::mutex> l(mu_);
  if (auto f = RecordLocked(MakeCall(Method::kAbortJob, name))) return *f;
  if (domains_.count(name) == 0) return Lost(name);
  auto it = jobs_.find(name);
  if (it == jobs_.end()) {
    return base::NotFound("Requested operation is not valid: no job is active on the domain");
  }
  if (it->second->post_copy) {
    return base::FailedPrecondition(
        "Requested operation is not valid: cannot abort migration in post-copy mode");
  }
  FinishLocked(l, name, base::Aborted("operation aborted: migration out: canceled by client"));
  return base::Status::Ok();
}

base::StatusOr<uint64_t> FakeHypervisor::MeasureDirtyRate(const std::string& name, int seconds) {
  uint64_t rate = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    Call call = MakeCall(Method::kMeasureDirtyRate, name);
    call.value = seconds < 0 ? 0 : static_cast<uint64_t>(seconds);
    if (auto f = RecordLocked(std::move(call))) return *f;
    if (seconds < 1 || seconds > 60) {
      return base::InvalidArgument("dirty rate of " + name + ": seconds must be in [1, 60]");
    }
    auto it = domains_.find(name);
    if (it == domains_.end()) return Lost(name);
    if (it->second.info.state != DomainState::kRunning) {
      return base::FailedPrecondition("Requested operation is not valid: domain is not running");
    }
    auto r = dirty_rates_.find(name);
    if (r != dirty_rates_.end()) rate = r->second;
  }
  if (options_.clock != nullptr) options_.clock->SleepFor(std::chrono::seconds(seconds));
  return rate;
}

base::Status FakeHypervisor::StartPostCopy(const std::string& name) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (auto f = RecordLocked(MakeCall(Method::kStartPostCopy, name))) return *f;
    if (domains_.count(name) == 0) return Lost(name);
    auto it = jobs_.find(name);
    if (it == jobs_.end()) {
      return base::FailedPrecondition(
          "Requested operation is not valid: domain is not being migrated");
    }
    if (!it->second->params.allow_post_copy) {
      return base::FailedPrecondition(
          "Requested operation is not valid: switching to post-copy requires migration to be "
          "started with VIR_MIGRATE_POSTCOPY flag");
    }
    if (it->second->post_copy) {
      return base::FailedPrecondition(
          "Requested operation is not valid: post-copy already started");
    }
    it->second->post_copy = true;
    post_copy_[name] = true;
  }
  Emit(Lifecycle(name, DomainEvent::kSuspended, DomainEvent::kSuspendedPostCopy));
  return base::Status::Ok();
}

base::Status FakeHypervisor::SetMaxDowntime(const std::string& name, uint64_t ms) {
  std::lock_guard<std::mutex> l(mu_);
  Call call = MakeCall(Method::kSetMaxDowntime, name);
  call.value = ms;
  if (auto f = RecordLocked(std::move(call))) return *f;
  if (domains_.count(name) == 0) return Lost(name);
  max_downtime_[name] = ms;
  return base::Status::Ok();
}

base::Status FakeHypervisor::SetMaxSpeed(const std::string& name, uint64_t mib_per_second) {
  std::lock_guard<std::mutex> l(mu_);
  Call call = MakeCall(Method::kSetMaxSpeed, name);
  call.value = mib_per_second;
  if (auto f = RecordLocked(std::move(call))) return *f;
  if (domains_.count(name) == 0) return Lost(name);
  max_speed_[name] = mib_per_second;
  return base::Status::Ok();
}

// --- Driving ---

bool FakeHypervisor::Step(const std::string& name) {
  std::unique_lock<std::mutex> l(mu_);
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return false;
  Job& job = *it->second;
  if (job.step + 1 < job.script.steps.size()) {
    ++job.step;
    ApplyStepLocked(job);
  } else if (job.script.end == MigrationScript::End::kComplete) {
    FinishLocked(l, name, base::Status::Ok());
  } else if (job.script.end == MigrationScript::End::kFail) {
    FinishLocked(l, name, job.script.failure);
  }
  return true;
}

bool FakeHypervisor::AdvanceTo(const std::string& name, const JobStats& stats) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return false;
  it->second->current = stats;
  if (stats.type == JobStats::Type::kNone) it->second->current.type = JobStats::Type::kUnbounded;
  return true;
}

bool FakeHypervisor::CompleteMigration(const std::string& name) {
  std::unique_lock<std::mutex> l(mu_);
  if (jobs_.count(name) == 0) return false;
  FinishLocked(l, name, base::Status::Ok());
  return true;
}

bool FakeHypervisor::FailMigration(const std::string& name, base::Status status) {
  std::unique_lock<std::mutex> l(mu_);
  if (jobs_.count(name) == 0) return false;
  if (status.ok()) status = base::Internal("migration failed");
  FinishLocked(l, name, std::move(status));
  return true;
}

// --- Observing ---

bool FakeHypervisor::HasDomain(const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  return domains_.count(name) != 0;
}

std::optional<DomainInfo> FakeHypervisor::Domain(const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = domains_.find(name);
  if (it == domains_.end()) return std::nullopt;
  return it->second.info;
}

bool FakeHypervisor::Migrating(const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  return jobs_.count(name) != 0;
}

std::optional<uint64_t> FakeHypervisor::MaxDowntime(const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = max_downtime_.find(name);
  if (it == max_downtime_.end()) return std::nullopt;
  return it->second;
}

std::optional<uint64_t> FakeHypervisor::MaxSpeed(const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = max_speed_.find(name);
  if (it == max_speed_.end()) return std::nullopt;
  return it->second;
}

bool FakeHypervisor::PostCopyStarted(const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = post_copy_.find(name);
  return it != post_copy_.end() && it->second;
}

std::vector<FakeHypervisor::Call> FakeHypervisor::Calls() const {
  std::lock_guard<std::mutex> l(mu_);
  return calls_;
}

std::vector<FakeHypervisor::Call> FakeHypervisor::CallsOf(Method method) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<Call> out;
  for (const Call& c : calls_) {
    if (c.method == method) out.push_back(c);
  }
  return out;
}

size_t FakeHypervisor::CountOf(Method method) const {
  std::lock_guard<std::mutex> l(mu_);
  return static_cast<size_t>(std::count_if(calls_.begin(), calls_.end(),
                                           [method](const Call& c) { return c.method == method; }));
}

bool FakeHypervisor::WaitForMigration(const std::string& name, std::chrono::milliseconds limit) {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, limit, [&] { return jobs_.count(name) != 0; });
}

bool FakeHypervisor::WaitForCalls(Method method, size_t n, std::chrono::milliseconds limit) {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, limit, [&] {
    return static_cast<size_t>(std::count_if(calls_.begin(), calls_.end(), [method](const Call& c) {
             return c.method == method;
           })) >= n;
  });
}

}  // namespace engine::testing
