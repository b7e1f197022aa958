#include "engine/heartbeat.h"

#include "base/log.h"
#include "engine/resources.h"

namespace engine {

NodeHeartbeat::NodeHeartbeat(kube::Api* api, base::Clock* clock, Options options)
    : api_(api), clock_(clock), options_(std::move(options)) {}

NodeHeartbeat::~NodeHeartbeat() { Stop(); }

void NodeHeartbeat::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] {
    try {
      Run();
    } catch (const std::exception& e) {
      base::log::Error("node heartbeat stopped by an exception", {{"error", e.what()}});
    }
  });
}

void NodeHeartbeat::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

base::Status NodeHeartbeat::RenewOnce() {
  NodeRegistration r = options_.registration;
  if (options_.free_memory) {
    if (auto free = options_.free_memory()) r.free_memory_bytes = *free;
  }
  const std::string name = LeaseName(r.node_name);
  const auto now = clock_->WallNow();
  auto patched = api_->Patch(kLeases, options_.ns, name, kube::PatchType::kMerge,
                             LeaseRenewPatch(r, now), kube::PatchOptions{});
  base::Status result = patched.status();
  if (result.code() == base::Code::kNotFound) {
    auto created = api_->Create(kLeases, options_.ns, LeaseCreateJson(r, options_.ns, now),
                                kube::CreateOptions{});
    result = created.status();
    if (result.ok()) {
      base::log::Info("node registered", {{"lease", options_.ns + "/" + name},
                                          {"libvirt_uri", r.libvirt_uri},
                                          {"migration_address", r.migration_address}});
    }
  }
  std::lock_guard<std::mutex> l(mu_);
  if (result.ok()) {
    last_success_ = clock_->Now();
    ++renewals_;
    if (failing_)
      base::log::Info("node lease renewed again", {{"lease", options_.ns + "/" + name}});
    failing_ = false;
  } else {
    ++failures_;
    failing_ = true;
    base::log::Warning("node lease not renewed; retrying",
                       {{"lease", options_.ns + "/" + name}, {"error", result}});
  }
  return result;
}

bool NodeHeartbeat::Healthy() const {
  std::lock_guard<std::mutex> l(mu_);
  return last_success_ && clock_->Now() - *last_success_ <=
                              std::chrono::seconds(options_.registration.lease_duration_seconds);
}

void NodeHeartbeat::Run() {
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    l.unlock();
    (void)RenewOnce();  // logged and counted inside
    l.lock();
    // A real-time wait: renewals keep a real lease alive, and Stop() wakes it.
    cv_.wait_for(l, options_.interval, [this] { return stop_; });
  }
}

}  // namespace engine
