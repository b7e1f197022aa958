#include "engine/events.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>

#include "base/log.h"
#include "engine/resources.h"

namespace engine {

EventRecorder::EventRecorder(kube::Api* api, base::Clock* clock, Options options)
    : api_(api), clock_(clock), options_(std::move(options)) {}

void EventRecorder::Normal(const EventObject& object, const std::string& reason,
                           const std::string& message) {
  Record(object, "Normal", reason, message);
}

void EventRecorder::Warning(const EventObject& object, const std::string& reason,
                            const std::string& message) {
  Record(object, "Warning", reason, message);
}

uint64_t EventRecorder::written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

uint64_t EventRecorder::failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failed_;
}

void EventRecorder::Record(const EventObject& object, const char* type, const std::string& reason,
                           const std::string& message) {
  const auto now = clock_->Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto key = std::make_tuple(object.uid.empty() ? object.namespace_ + "/" + object.name
                                                  : object.uid,
                               reason, message);
    auto it = recent_.find(key);
    if (it != recent_.end() && now - it->second < options_.dedupe_window) return;
    recent_[key] = now;
    // Forget old entries so the map stays as small as the recent past.
    for (auto i = recent_.begin(); i != recent_.end();) {
      i = now - i->second >= options_.dedupe_window ? recent_.erase(i) : std::next(i);
    }
  }
  const auto wall = clock_->WallNow();
  const std::string stamp = base::FormatRfc3339(wall);
  const std::string micro = base::FormatRfc3339Micro(wall);
  // Named as the API server's recorders name them: the object's name and a
  // hex timestamp, unique per event.
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%llx",
                static_cast<unsigned long long>(
                    std::chrono::duration_cast<std::chrono::nanoseconds>(wall.time_since_epoch())
                        .count()));
  std::string name = object.name.substr(0, 253 - 17) + suffix;

  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&](const char* key, const std::string& value) {
    w.Key(key);
    w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
  };
  w.StartObject();
  str("apiVersion", "v1");
  str("kind", "Event");
  w.Key("metadata");
  w.StartObject();
  str("name", name);
  str("namespace", object.namespace_);
  w.EndObject();
  w.Key("involvedObject");
  w.StartObject();
  str("apiVersion", object.api_version);
  str("kind", object.kind);
  str("namespace", object.namespace_);
  str("name", object.name);
  if (!object.uid.empty()) str("uid", object.uid);
  w.EndObject();
  str("reason", reason);
  str("message", message);
  str("type", type);
  w.Key("source");
  w.StartObject();
  str("component", options_.component);
  if (!options_.host.empty()) str("host", options_.host);
  w.EndObject();
  str("firstTimestamp", stamp);
  str("lastTimestamp", stamp);
  str("eventTime", micro);
  w.Key("count");
  w.Int(1);
  str("reportingComponent", options_.component);
  str("reportingInstance", options_.host);
  w.EndObject();

  auto created = api_->Create(kEvents, object.namespace_,
                              std::string_view(buf.GetString(), buf.GetSize()), {});
  std::lock_guard<std::mutex> lock(mu_);
  if (created.ok()) {
    ++written_;
    return;
  }
  ++failed_;
  base::log::Warning("cannot write event", {{"object", object.namespace_ + "/" + object.name},
                                            {"reason", reason},
                                            {"error", created.status().ToString()}});
}

}  // namespace engine
