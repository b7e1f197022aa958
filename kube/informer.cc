#include "kube/informer.h"

#include <exception>
#include <random>

#include "base/log.h"

namespace kube {

// ---- Store ----

void Store::IndexLocked(const std::string& key, const Object& obj, bool add) {
  for (auto& [name, index] : indexes_) {
    for (const auto& v : index.fn(obj)) {
      if (add) {
        index.keys_by_value[v].insert(key);
      } else if (auto it = index.keys_by_value.find(v); it != index.keys_by_value.end()) {
        it->second.erase(key);
        if (it->second.empty()) index.keys_by_value.erase(it);
      }
    }
  }
}

void Store::AddIndexer(const std::string& name, IndexFunc fn) {
  std::lock_guard<std::mutex> l(mu_);
  Index& index = indexes_[name];
  index.fn = std::move(fn);
  index.keys_by_value.clear();
  for (const auto& [key, obj] : items_) {
    for (const auto& v : index.fn(*obj)) index.keys_by_value[v].insert(key);
  }
}

ObjectPtr Store::Get(const std::string& key) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = items_.find(key);
  return it == items_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Store::List() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(items_.size());
  for (const auto& [k, v] : items_) out.push_back(v);
  return out;
}

std::vector<std::string> Store::Keys() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& [k, v] : items_) out.push_back(k);
  return out;
}

size_t Store::Size() const {
  std::lock_guard<std::mutex> l(mu_);
  return items_.size();
}

std::vector<ObjectPtr> Store::ByIndex(const std::string& name, const std::string& value) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<ObjectPtr> out;
  auto idx = indexes_.find(name);
  if (idx == indexes_.end()) return out;
  auto keys = idx->second.keys_by_value.find(value);
  if (keys == idx->second.keys_by_value.end()) return out;
  for (const auto& k : keys->second) {
    if (auto it = items_.find(k); it != items_.end()) out.push_back(it->second);
  }
  return out;
}

ObjectPtr Store::Upsert(ObjectPtr obj) {
  std::string key = obj->Key();
  std::lock_guard<std::mutex> l(mu_);
  ObjectPtr old;
  auto it = items_.find(key);
  if (it != items_.end()) {
    old = it->second;
    IndexLocked(key, *old, false);
    it->second = obj;
  } else {
    items_.emplace(key, obj);
  }
  IndexLocked(key, *obj, true);
  return old;
}

ObjectPtr Store::Remove(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = items_.find(key);
  if (it == items_.end()) return nullptr;
  ObjectPtr old = it->second;
  IndexLocked(key, *old, false);
  items_.erase(it);
  return old;
}

Store::IndexFunc NamespaceIndexFunc() {
  return [](const Object& o) { return std::vector<std::string>{o.namespace_}; };
}

Store::IndexFunc LabelIndexFunc(std::string label) {
  return [label = std::move(label)](const Object& o) {
    auto it = o.labels.find(label);
    return it == o.labels.end() ? std::vector<std::string>{} : std::vector<std::string>{it->second};
  };
}

Store::IndexFunc FieldIndexFunc(std::string path) {
  return [path = std::move(path)](const Object& o) {
    auto v = StringField(o, path);
    return v ? std::vector<std::string>{*v} : std::vector<std::string>{};
  };
}

// ---- Informer ----

Informer::Informer(Client* client, ResourceRef ref, std::string ns, ListOptions selectors,
                   InformerOptions options)
    : client_(client),
      ref_(std::move(ref)),
      ns_(std::move(ns)),
      selectors_(std::move(selectors)),
      options_(options) {}

Informer::~Informer() { Stop(); }

void Informer::AddHandler(EventHandlers handlers) { handlers_.push_back(std::move(handlers)); }

void Informer::Start() {
  if (thread_.joinable()) return;
  stopped_ = false;
  thread_ = std::thread([this] {
    // Nothing may escape a worker thread (style.md 7).
    try {
      Run();
    } catch (const std::exception& e) {
      base::log::Error("informer stopped by an exception",
                       {{"resource", ref_.resource}, {"error", e.what()}});
    } catch (...) {
      base::log::Error("informer stopped by an unknown exception", {{"resource", ref_.resource}});
    }
  });
}

void Informer::Stop() {
  stopped_ = true;
  std::shared_ptr<kube::Watch> w;
  {
    std::lock_guard<std::mutex> l(mu_);
    w = watch_;
    sync_cv_.notify_all();
  }
  if (w) w->Stop();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> l(mu_);
  return sync_cv_.wait_for(l, timeout, [&] { return synced_.load() || stopped_.load(); }) &&
         synced_;
}

std::string Informer::resource_version() const {
  std::lock_guard<std::mutex> l(mu_);
  return rv_;
}

// Handlers are user code: an exception in one must not kill the informer.
void Informer::FireAdd(const ObjectPtr& o) {
  for (auto& h : handlers_) {
    if (!h.on_add) continue;
    try {
      h.on_add(o);
    } catch (const std::exception& e) {
      base::log::Error("informer add handler threw", {{"resource", ref_.resource}, {"error", e.what()}});
    }
  }
}

void Informer::FireUpdate(const ObjectPtr& a, const ObjectPtr& b) {
  for (auto& h : handlers_) {
    if (!h.on_update) continue;
    try {
      h.on_update(a, b);
    } catch (const std::exception& e) {
      base::log::Error("informer update handler threw", {{"resource", ref_.resource}, {"error", e.what()}});
    }
  }
}

void Informer::FireDelete(const ObjectPtr& o) {
  for (auto& h : handlers_) {
    if (!h.on_delete) continue;
    try {
      h.on_delete(o);
    } catch (const std::exception& e) {
      base::log::Error("informer delete handler threw", {{"resource", ref_.resource}, {"error", e.what()}});
    }
  }
}

void Informer::SleepBackoff(std::chrono::milliseconds& backoff) {
  static thread_local std::mt19937 rng{std::random_device{}()};
  auto d = std::chrono::duration_cast<std::chrono::nanoseconds>(backoff) +
           std::chrono::nanoseconds(static_cast<int64_t>(
               std::uniform_real_distribution<double>(0.0, 0.2)(rng) * 1e6 *
               static_cast<double>(backoff.count())));
  backoff = std::min(backoff * 2, options_.max_backoff);
  // Sleep in slices so Stop() is not held up by a long backoff.
  const auto kSlice = std::chrono::milliseconds(100);
  while (d > std::chrono::nanoseconds::zero() && !stopped_) {
    auto step = std::min<std::chrono::nanoseconds>(d, kSlice);
    options_.clock->SleepFor(step);
    d -= step;
  }
}

base::Status Informer::ListAndReplace() {
  ++list_count_;
  ListOptions o;
  o.label_selector = selectors_.label_selector;
  o.field_selector = selectors_.field_selector;
  o.limit = options_.page_size;
  std::vector<Object> items;
  std::string rv;
  while (true) {
    auto page = client_->List(ref_, ns_, o);
    if (!page.ok()) {
      if (page.status().code() == base::Code::kOutOfRange && !o.continue_token.empty()) {
        // The continue token expired between pages: take one full list.
        items.clear();
        o.continue_token.clear();
        o.limit = 0;
        continue;
      }
      return page.status();
    }
    for (auto& it : page->items) items.push_back(std::move(it));
    rv = page->resource_version;
    if (page->continue_token.empty() || stopped_) break;
    o.continue_token = page->continue_token;
  }
  if (stopped_) return base::Aborted("informer stopped");

  std::set<std::string> seen;
  for (auto& item : items) {
    auto obj = std::make_shared<const Object>(std::move(item));
    std::string key = obj->Key();
    seen.insert(key);
    ObjectPtr old = store_.Get(key);
    if (!old) {
      store_.Upsert(obj);
      FireAdd(obj);
    } else if (old->resource_version != obj->resource_version || old->uid != obj->uid) {
      store_.Upsert(obj);
      FireUpdate(old, obj);
    }
  }
  for (const auto& key : store_.Keys()) {
    if (seen.count(key)) continue;
    if (ObjectPtr old = store_.Remove(key)) FireDelete(old);
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    rv_ = rv;
    synced_ = true;
    sync_cv_.notify_all();
  }
  return base::Status::Ok();
}

void Informer::Apply(const WatchEvent& ev) {
  if (!ev.object.resource_version.empty()) {
    std::lock_guard<std::mutex> l(mu_);
    rv_ = ev.object.resource_version;
  }
  if (ev.type == WatchEvent::Type::kBookmark) return;
  auto obj = std::make_shared<const Object>(ev.object);
  if (ev.type == WatchEvent::Type::kDeleted) {
    if (store_.Remove(obj->Key())) FireDelete(obj);
    return;
  }
  // ADDED for a known key (or MODIFIED for an unknown one) is treated by what
  // the store holds, so handlers never see a duplicate add.
  ObjectPtr old = store_.Upsert(obj);
  if (old) {
    FireUpdate(old, obj);
  } else {
    FireAdd(obj);
  }
}

base::Status Informer::WatchOnce(bool& got_events) {
  got_events = false;
  WatchOptions wo;
  wo.resource_version = resource_version();
  wo.label_selector = selectors_.label_selector;
  wo.field_selector = selectors_.field_selector;
  wo.allow_bookmarks = true;
  {
    static thread_local std::mt19937 rng{std::random_device{}()};
    int lo = options_.min_watch_timeout_seconds;
    int hi = std::max(lo, options_.max_watch_timeout_seconds);
    wo.timeout_seconds = std::uniform_int_distribution<int>(lo, hi)(rng);
  }
  ++watch_count_;
  auto w = client_->Watch(ref_, ns_, wo);
  if (!w.ok()) return w.status();
  std::shared_ptr<kube::Watch> watch(std::move(*w));
  {
    std::lock_guard<std::mutex> l(mu_);
    watch_ = watch;
  }
  base::Status end;
  if (stopped_) {
    end = base::Aborted("informer stopped");
  } else {
    while (true) {
      auto ev = watch->Next();
      if (!ev.ok()) {
        end = ev.status();
        break;
      }
      got_events = true;
      if (ev->type == WatchEvent::Type::kError) {
        end = ev->status;
        break;
      }
      Apply(*ev);
    }
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    watch_.reset();
  }
  return end;
}

void Informer::Run() {
  std::chrono::milliseconds backoff = options_.initial_backoff;
  bool need_list = options_.resume_resource_version.empty();
  if (!need_list) {
    std::lock_guard<std::mutex> l(mu_);
    rv_ = options_.resume_resource_version;
    synced_ = true;
    sync_cv_.notify_all();
  }
  while (!stopped_) {
    if (need_list) {
      base::Status s = ListAndReplace();
      if (stopped_) break;
      if (!s.ok()) {
        base::log::Warning("informer list failed; retrying", {{"resource", ref_.resource}, {"error", s}});
        SleepBackoff(backoff);
        continue;
      }
      need_list = false;
      backoff = options_.initial_backoff;
    }
    bool got_events = false;
    base::Status end = WatchOnce(got_events);
    if (stopped_) break;
    switch (end.code()) {
      case base::Code::kOutOfRange:
        // The resourceVersion left the server's window: relist now.
        need_list = true;
        break;
      case base::Code::kDeadlineExceeded:
        // The server ended the watch (its timeout): resume from the last
        // resourceVersion. A watch that ends at once without events backs
        // off, so a misbehaving server cannot make us spin.
        if (got_events) {
          backoff = options_.initial_backoff;
        } else {
          SleepBackoff(backoff);
        }
        break;
      default:
        base::log::Warning("informer watch failed; retrying", {{"resource", ref_.resource}, {"error", end}});
        SleepBackoff(backoff);
        break;
    }
  }
}

}  // namespace kube
