#include "tests/devcluster/store.h"

#include <sys/stat.h>

#include <fstream>

namespace devcluster {
namespace {

std::string Key(const std::string& gr, const std::string& ns, const std::string& name) {
  return gr + '\x1f' + ns + '\x1f' + name;
}

void SetRv(JsonDoc& doc, uint64_t rv) {
  auto& a = doc.GetAllocator();
  Json& meta = EnsureObject(doc, "metadata", a);
  SetString(meta, "resourceVersion", std::to_string(rv), a);
}

}  // namespace

Store::Store(std::string dir, size_t window) : dir_(std::move(dir)), window_(window) {}

Store::~Store() {
  if (log_ != nullptr) fclose(log_);
}

base::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& dir, size_t window) {
  std::unique_ptr<Store> s(new Store(dir, window == 0 ? 1 : window));
  base::Status st = s->Replay();
  if (!st.ok()) return st;
  return s;
}

// The log is one JSON object per line: {"t":TYPE,"rv":N,"gr":..,"ns":..,"n":..,"o":OBJECT}.
// TYPE SNAP holds an object that predates the event window. On open, the log
// is replayed and rewritten compactly: snapshots of objects whose last event
// fell out of the window, followed by the window's events. A torn last line
// (crash mid-write) is ignored.
base::Status Store::Replay() {
  mkdir(dir_.c_str(), 0700);
  const std::string path = dir_ + "/state.jsonl";
  std::vector<StoreEvent> all;
  {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      JsonDoc d;
      d.Parse(line.data(), line.size());
      if (d.HasParseError() || !d.IsObject()) continue;
      const Json* rv = Member(d, "rv");
      const Json* o = Member(d, "o");
      if (rv == nullptr || !rv->IsUint64() || o == nullptr) continue;
      StoreEvent ev;
      ev.rv = rv->GetUint64();
      ev.type = StringAt(d, "t");
      ev.gr = StringAt(d, "gr");
      ev.ns = StringAt(d, "ns");
      ev.name = StringAt(d, "n");
      auto obj = std::make_shared<JsonDoc>();
      obj->CopyFrom(*o, obj->GetAllocator());
      ev.object = obj;
      all.push_back(std::move(ev));
    }
  }
  for (auto& ev : all) {
    rv_ = std::max(rv_, ev.rv);
    std::string k = Key(ev.gr, ev.ns, ev.name);
    // The log keeps only the state after each change; the state before a
    // MODIFIED is the object as replayed so far.
    if (auto prev = objects_.find(k); ev.type == "MODIFIED" && prev != objects_.end())
      ev.previous = prev->second.doc;
    if (ev.type == "DELETED") {
      objects_.erase(k);
    } else {
      objects_[k] = Entry{ev.rv, ev.object};
    }
    if (ev.type != "SNAP") {
      events_.push_back(ev);
      if (events_.size() > window_) events_.pop_front();
    }
  }
  oldest_rv_ = events_.empty() ? rv_ : events_.front().rv - 1;
  // Rewrite compactly.
  const std::string tmp = path + ".tmp";
  log_ = fopen(tmp.c_str(), "w");
  if (log_ == nullptr) return base::Internal("cannot write " + tmp);
  uint64_t window_start = events_.empty() ? rv_ + 1 : events_.front().rv;
  for (const auto& [k, e] : objects_) {
    if (e.rv >= window_start) continue;
    size_t a = k.find('\x1f');
    size_t b = k.find('\x1f', a + 1);
    StoreEvent snap{e.rv,  "SNAP", k.substr(0, a), k.substr(a + 1, b - a - 1), k.substr(b + 1),
                    e.doc, nullptr};
    AppendLocked(snap);
  }
  for (const auto& ev : events_) AppendLocked(ev);
  fflush(log_);
  fclose(log_);
  if (rename(tmp.c_str(), path.c_str()) != 0) return base::Internal("cannot rename " + tmp);
  log_ = fopen(path.c_str(), "a");
  if (log_ == nullptr) return base::Internal("cannot append to " + path);
  return base::Status::Ok();
}

void Store::AppendLocked(const StoreEvent& ev) {
  JsonDoc line(rapidjson::kObjectType);
  auto& a = line.GetAllocator();
  line.AddMember("t", Json(ev.type.c_str(), a), a);
  line.AddMember("rv", Json(static_cast<uint64_t>(ev.rv)), a);
  line.AddMember("gr", Json(ev.gr.c_str(), a), a);
  line.AddMember("ns", Json(ev.ns.c_str(), a), a);
  line.AddMember("n", Json(ev.name.c_str(), a), a);
  Json o;
  o.CopyFrom(*ev.object, a);
  line.AddMember("o", o, a);
  std::string s = ToJson(line);
  s.push_back('\n');
  fwrite(s.data(), 1, s.size(), log_);
}

void Store::RecordLocked(StoreEvent ev) {
  AppendLocked(ev);
  fflush(log_);
  events_.push_back(std::move(ev));
  while (events_.size() > window_) {
    oldest_rv_ = events_.front().rv;
    events_.pop_front();
  }
  cv_.notify_all();
}

uint64_t Store::CurrentRv() const {
  std::lock_guard<std::mutex> l(mu_);
  return rv_;
}

uint64_t Store::OldestWatchableRv() const {
  std::lock_guard<std::mutex> l(mu_);
  return oldest_rv_;
}

DocPtr Store::Get(const std::string& gr, const std::string& ns, const std::string& name) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = objects_.find(Key(gr, ns, name));
  return it == objects_.end() ? nullptr : it->second.doc;
}

std::vector<DocPtr> Store::List(const std::string& gr, const std::string& ns, uint64_t* rv) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<DocPtr> out;
  std::string prefix = gr + '\x1f';
  if (!ns.empty()) prefix += ns + '\x1f';
  for (auto it = objects_.lower_bound(prefix);
       it != objects_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    out.push_back(it->second.doc);
  }
  if (rv != nullptr) *rv = rv_;
  return out;
}

base::StatusOr<DocPtr> Store::Put(const std::string& gr, const std::string& ns,
                                  const std::string& name, std::unique_ptr<JsonDoc> doc,
                                  std::optional<uint64_t> expect_rv) {
  std::lock_guard<std::mutex> l(mu_);
  std::string k = Key(gr, ns, name);
  auto it = objects_.find(k);
  if (expect_rv.has_value()) {
    if (*expect_rv == 0 && it != objects_.end()) return base::AlreadyExists(name);
    if (*expect_rv != 0) {
      if (it == objects_.end()) return base::NotFound(name);
      if (it->second.rv != *expect_rv) return base::Aborted(name);
    }
  }
  const bool existed = it != objects_.end();
  DocPtr previous = existed ? it->second.doc : nullptr;
  ++rv_;
  SetRv(*doc, rv_);
  DocPtr stored(doc.release());
  objects_[k] = Entry{rv_, stored};
  RecordLocked(StoreEvent{rv_, existed ? "MODIFIED" : "ADDED", gr, ns, name, stored, previous});
  return stored;
}

base::StatusOr<DocPtr> Store::Remove(const std::string& gr, const std::string& ns,
                                     const std::string& name, std::optional<uint64_t> expect_rv) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = objects_.find(Key(gr, ns, name));
  if (it == objects_.end()) return base::NotFound(name);
  if (expect_rv.has_value() && it->second.rv != *expect_rv) return base::Aborted(name);
  ++rv_;
  auto last = std::make_shared<JsonDoc>();
  last->CopyFrom(*it->second.doc, last->GetAllocator());
  SetRv(*last, rv_);
  objects_.erase(it);
  RecordLocked(StoreEvent{rv_, "DELETED", gr, ns, name, last, nullptr});
  return DocPtr(last);
}

base::Status Store::WaitEvents(uint64_t* from,
                               const std::function<bool(const StoreEvent&)>& filter,
                               std::vector<StoreEvent>* out, std::chrono::milliseconds timeout,
                               const std::atomic<bool>* stop) {
  std::unique_lock<std::mutex> l(mu_);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (*from < oldest_rv_) {
      return base::OutOfRange("too old resource version: " + std::to_string(*from) + " (" +
                              std::to_string(oldest_rv_ + 1) + ")");
    }
    // Events are in rv order; skip those at or below *from.
    auto it = std::lower_bound(events_.begin(), events_.end(), *from + 1,
                               [](const StoreEvent& e, uint64_t rv) { return e.rv < rv; });
    for (; it != events_.end(); ++it) {
      if (filter(*it)) out->push_back(*it);
      *from = it->rv;
    }
    if (!out->empty()) return base::Status::Ok();
    if ((stop != nullptr && stop->load()) ||
        cv_.wait_until(l, deadline) == std::cv_status::timeout) {
      return base::Status::Ok();
    }
    if (stop != nullptr && stop->load()) return base::Status::Ok();
  }
}

void Store::WakeAll() { cv_.notify_all(); }

}  // namespace devcluster
