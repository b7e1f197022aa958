// Informer: a local, indexed cache of one resource kept current by list +
// watch, with add/update/delete handlers (client-go's shared informer, small).
//
// Protocol: list (paged by InformerOptions::page_size, following `continue`)
// then watch from the list's resourceVersion with bookmarks. When a watch ends
// it resumes from the last resourceVersion seen (object or bookmark). On 410
// (OutOfRange: HTTP 410 at watch start or an ERROR event) it lists again and
// diffs the result against the store, firing add/update/delete so the store
// ends equal to the server's, without duplicate adds. Errors are retried with
// exponential backoff measured on the injected Clock. The informer never lists
// on a timer.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "kube/client.h"
#include "kube/object.h"

namespace kube {

using ObjectPtr = std::shared_ptr<const Object>;

// Thread-safe map "ns/name" (or "name") -> object, with secondary indexes.
// Stored objects are never mutated; updates replace the pointer.
class Store {
 public:
  using IndexFunc = std::function<std::vector<std::string>(const Object&)>;

  // Adds (or replaces) an index; existing objects are indexed immediately.
  void AddIndexer(const std::string& name, IndexFunc fn);

  ObjectPtr Get(const std::string& key) const;  // null when absent
  std::vector<ObjectPtr> List() const;          // ordered by key
  std::vector<std::string> Keys() const;        // sorted
  size_t Size() const;
  // Objects whose index `name` produced `value` (ordered by key); empty for
  // unknown indexes.
  std::vector<ObjectPtr> ByIndex(const std::string& name, const std::string& value) const;

  // Mutations, used by the informer (public for tests and simple callers).
  // Upsert returns the object it replaced (null if new); Remove the removed one.
  ObjectPtr Upsert(ObjectPtr obj);
  ObjectPtr Remove(const std::string& key);

 private:
  struct Index {
    IndexFunc fn;
    std::map<std::string, std::set<std::string>> keys_by_value;
  };
  void IndexLocked(const std::string& key, const Object& obj, bool add);

  mutable std::mutex mu_;
  std::map<std::string, ObjectPtr> items_;
  std::map<std::string, Index> indexes_;
};

// Built-in index functions.
inline constexpr const char* kNamespaceIndex = "namespace";
Store::IndexFunc NamespaceIndexFunc();
Store::IndexFunc LabelIndexFunc(std::string label);        // the label's value, if set
Store::IndexFunc FieldIndexFunc(std::string dotted_path);  // a string field, e.g. status.nodeName

struct EventHandlers {
  std::function<void(const ObjectPtr&)> on_add;
  std::function<void(const ObjectPtr& old_obj, const ObjectPtr& new_obj)> on_update;
  // The object's last state: from the DELETED event, or the cached one when
  // a relist finds it gone.
  std::function<void(const ObjectPtr&)> on_delete;
};

struct InformerOptions {
  int64_t page_size = 500;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{30000};
  // Each watch asks the server to end it after a random time in this range,
  // as client-go does, so connections are spread and refreshed.
  int min_watch_timeout_seconds = 300;
  int max_watch_timeout_seconds = 600;
  base::Clock* clock = base::RealClock();
  // Resume a cache kept from before (e.g. a previous informer's store,
  // Upserted into store() before Start): the first step is a watch from this
  // resourceVersion instead of a list, and HasSynced() is true at once. A 410
  // then relists and diffs against the resumed store as usual.
  std::string resume_resource_version;
};

class Informer {
 public:
  // `client` must outlive the informer. `ns` empty watches all namespaces.
  // Only the selectors of `selectors` are used.
  Informer(Client* client, ResourceRef ref, std::string ns, ListOptions selectors = {},
           InformerOptions options = {});
  ~Informer();  // stops and joins
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  Store& store() { return store_; }
  // Handlers run on the informer thread, in event order. Add before Start().
  void AddHandler(EventHandlers handlers);

  void Start();
  // Ends the watch and joins the thread; a list in flight finishes first.
  void Stop();
  // True once the first list has been applied to the store.
  bool HasSynced() const { return synced_; }
  bool WaitForSync(std::chrono::milliseconds timeout);

  // Observability (tests, metrics): how many lists and watches were made, and
  // the resourceVersion the next watch starts from.
  int64_t list_count() const { return list_count_; }
  int64_t watch_count() const { return watch_count_; }
  std::string resource_version() const;

 private:
  void Run();
  base::Status ListAndReplace();
  base::Status WatchOnce(bool& got_events);
  void Apply(const WatchEvent& ev);
  void SleepBackoff(std::chrono::milliseconds& backoff);
  void FireAdd(const ObjectPtr& o);
  void FireUpdate(const ObjectPtr& a, const ObjectPtr& b);
  void FireDelete(const ObjectPtr& o);

  Client* const client_;
  const ResourceRef ref_;
  const std::string ns_;
  const ListOptions selectors_;
  const InformerOptions options_;
  Store store_;
  std::vector<EventHandlers> handlers_;

  std::thread thread_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> synced_{false};
  std::atomic<int64_t> list_count_{0};
  std::atomic<int64_t> watch_count_{0};
  mutable std::mutex mu_;
  std::condition_variable sync_cv_;
  std::string rv_;
  std::shared_ptr<kube::Watch> watch_;  // the watch in progress, for Stop()
};

}  // namespace kube
