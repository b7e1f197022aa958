#include "kube/watch.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace kube {

const char* WatchEventTypeName(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded: return "ADDED";
    case WatchEvent::Type::kModified: return "MODIFIED";
    case WatchEvent::Type::kDeleted: return "DELETED";
    case WatchEvent::Type::kBookmark: return "BOOKMARK";
    case WatchEvent::Type::kError: return "ERROR";
  }
  return "UNKNOWN";
}

base::StatusOr<WatchEvent> ParseWatchEvent(std::string_view line) {
  rapidjson::Document doc;
  doc.Parse(line.data(), line.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return base::InvalidArgument("watch event is not a JSON object");
  }
  auto type_it = doc.FindMember("type");
  if (type_it == doc.MemberEnd() || !type_it->value.IsString()) {
    return base::InvalidArgument("watch event has no type");
  }
  std::string type = type_it->value.GetString();
  auto obj_it = doc.FindMember("object");
  if (obj_it == doc.MemberEnd() || !obj_it->value.IsObject()) {
    return base::InvalidArgument("watch event " + type + " has no object");
  }
  WatchEvent ev;
  if (type == "ADDED") ev.type = WatchEvent::Type::kAdded;
  else if (type == "MODIFIED") ev.type = WatchEvent::Type::kModified;
  else if (type == "DELETED") ev.type = WatchEvent::Type::kDeleted;
  else if (type == "BOOKMARK") ev.type = WatchEvent::Type::kBookmark;
  else if (type == "ERROR") ev.type = WatchEvent::Type::kError;
  else return base::InvalidArgument("unknown watch event type \"" + type + "\"");

  if (ev.type == WatchEvent::Type::kError) {
    const rapidjson::Value& st = obj_it->value;
    int code = 500;
    if (auto c = st.FindMember("code"); c != st.MemberEnd() && c->value.IsInt()) {
      code = c->value.GetInt();
    }
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    st.Accept(w);
    ev.status = StatusFromHttp(code, std::string(buf.GetString(), buf.GetSize()));
    if (ev.status.ok()) ev.status = base::Internal("watch ERROR event with success code");
  }
  auto obj = ObjectFromValue(obj_it->value);
  if (!obj.ok()) return obj.status();
  ev.object = std::move(*obj);
  return ev;
}

Watch::~Watch() {
  Stop();
  stream_.reset();  // joins the stream thread, which may still call OnDone
}

base::StatusOr<std::unique_ptr<Watch>> Watch::Open(const Opener& open) {
  std::unique_ptr<Watch> w(new Watch());
  Watch* raw = w.get();
  auto stream = open([raw](std::string_view d) { return raw->OnChunk(d); },
                     [raw](const base::Status& s) { raw->OnDone(s); });
  if (!stream.ok()) return stream.status();
  w->stream_ = std::move(*stream);
  return w;
}

void Watch::Push(base::StatusOr<WatchEvent> ev) {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return queue_.size() < kMaxQueued || stopped_; });
  if (stopped_) return;
  queue_.push_back(std::move(ev));
  cv_.notify_all();
}

bool Watch::OnChunk(std::string_view data) {
  partial_.append(data);
  size_t start = 0;
  while (true) {
    size_t nl = partial_.find('\n', start);
    if (nl == std::string::npos) break;
    std::string_view line(partial_.data() + start, nl - start);
    start = nl + 1;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto ev = ParseWatchEvent(line);
    bool bad = !ev.ok();
    Push(std::move(ev));
    if (bad) return false;
  }
  partial_.erase(0, start);
  std::lock_guard<std::mutex> l(mu_);
  return !stopped_;
}

void Watch::OnDone(const base::Status& s) {
  if (s.ok() && partial_.find_first_not_of(" \t\r\n") != std::string::npos) {
    auto ev = ParseWatchEvent(partial_);
    partial_.clear();
    Push(std::move(ev));
  }
  std::lock_guard<std::mutex> l(mu_);
  if (s.ok()) {
    end_ = base::DeadlineExceeded("watch ended by the server");
  } else if (s.code() == base::Code::kAborted && !stopped_) {
    // on_chunk refused a malformed line; that error is already queued.
    end_ = base::InvalidArgument("watch stream carried a malformed event");
  } else {
    end_ = s;
  }
  cv_.notify_all();
}

base::StatusOr<WatchEvent> Watch::Next() {
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return !queue_.empty() || end_.has_value() || stopped_; });
  if (stopped_) return base::Aborted("watch stopped");
  if (!queue_.empty()) {
    auto ev = std::move(queue_.front());
    queue_.pop_front();
    cv_.notify_all();
    return ev;
  }
  return *end_;
}

void Watch::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stopped_) return;
    stopped_ = true;
    cv_.notify_all();
  }
  if (stream_) stream_->Stop();
}

}  // namespace kube
