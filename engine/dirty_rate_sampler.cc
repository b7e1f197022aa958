#include "engine/dirty_rate_sampler.h"

#include <vector>

#include "base/log.h"
#include "engine/domain_xml.h"

namespace engine {

SamplerAction SamplerActionFor(const DomainEvent& e) {
  if (e.kind != DomainEvent::Kind::kLifecycle) return SamplerAction::kNone;
  if (e.lifecycle == DomainEvent::kStarted && e.detail != DomainEvent::kStartedMigrated) {
    return SamplerAction::kStarted;
  }
  if (e.lifecycle == DomainEvent::kResumed && e.detail == DomainEvent::kResumedMigrated) {
    return SamplerAction::kPoke;
  }
  return SamplerAction::kNone;
}

DirtyRateSampler::DirtyRateSampler(Hypervisor* hv, base::Clock* clock, Options options)
    : hv_(hv), clock_(clock), options_(options) {}

DirtyRateSampler::~DirtyRateSampler() { Stop(); }

void DirtyRateSampler::Start() {
  thread_ = std::thread([this] { Run(); });
}

void DirtyRateSampler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void DirtyRateSampler::Poke() {
  std::lock_guard<std::mutex> lock(mu_);
  poked_ = true;
  cv_.notify_all();
}

void DirtyRateSampler::Started(const std::string& domain) {
  std::lock_guard<std::mutex> lock(mu_);
  started_[domain] = clock_->Now();
  samples_.erase(domain);  // a sample of an earlier run of the same name says nothing now
  poked_ = true;           // the thread recomputes when to wake
  cv_.notify_all();
}

std::optional<DirtyRateSampler::Sample> DirtyRateSampler::Latest(
    const std::string& domain, std::chrono::milliseconds max_age) const {
  const auto now = clock_->Now();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = samples_.find(domain);
  if (it == samples_.end() || now - it->second.at > max_age) return std::nullopt;
  return it->second;
}

void DirtyRateSampler::SetBusy(const std::string& domain, bool busy) {
  std::lock_guard<std::mutex> lock(mu_);
  if (busy) {
    busy_.insert(domain);
  } else if (busy_.erase(domain) > 0) {
    // Its migration ended and it is still here (failed, cancelled): it has
    // been skipped meanwhile, so measure it again now, for the next attempt.
    poked_ = true;
    cv_.notify_all();
  }
}

void DirtyRateSampler::SampleOnce() {
  auto domains = hv_->List();
  if (!domains.ok()) return;
  std::set<std::string> present;
  for (const DomainInfo& d : *domains) {
    if (d.state != DomainState::kRunning || !ParseDomainName(d.name).ok()) continue;
    present.insert(d.name);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      auto st = started_.find(d.name);
      if (st != started_.end()) {
        if (clock_->Now() - st->second < options_.settle) continue;  // still booting
        started_.erase(st);
      }
      if (busy_.count(d.name)) continue;
    }
    auto rate = hv_->MeasureDirtyRate(d.name, options_.seconds);
    if (!rate.ok()) {
      base::log::Debug(2, "dirty rate not measured",
                       {{"domain", d.name}, {"error", rate.status().ToString()}});
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    samples_[d.name] = Sample{*rate, clock_->Now()};
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = samples_.begin(); it != samples_.end();) {
    it = present.count(it->first) ? std::next(it) : samples_.erase(it);
  }
  for (auto it = started_.begin(); it != started_.end();) {
    it = present.count(it->first) ? std::next(it) : started_.erase(it);
  }
}

void DirtyRateSampler::Run() {
  while (true) {
    SampleOnce();
    std::unique_lock<std::mutex> lock(mu_);
    // The next round: after `interval`, or when the first settling VM is due.
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(options_.interval);
    const auto now = clock_->Now();
    for (const auto& [name, at] : started_) {
      auto due = std::chrono::duration_cast<std::chrono::milliseconds>(at + options_.settle - now);
      wait = std::max(std::chrono::milliseconds(0), std::min(wait, due));
    }
    cv_.wait_for(lock, wait, [this] { return stop_ || poked_; });
    if (stop_) return;
    poked_ = false;
  }
}

}  // namespace engine
