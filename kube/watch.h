// Watch streams: newline-delimited JSON events ({"type":"ADDED","object":{...}})
// in a chunked HTTP response, decoded into WatchEvents.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "kube/object.h"
#include "kube/transport.h"

namespace kube {

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, kBookmark, kError };
  Type type = Type::kAdded;
  Object object;  // for kBookmark only metadata.resourceVersion is meaningful
  // For kError: the API's Status as a base::Status (410 Expired/Gone becomes
  // Code::kOutOfRange). Ok for the other types.
  base::Status status;
};

const char* WatchEventTypeName(WatchEvent::Type type);

// Parses one line of a watch stream. InvalidArgument for malformed lines or
// unknown types.
base::StatusOr<WatchEvent> ParseWatchEvent(std::string_view line);

// A running watch. Next() blocks for the next event; Stop() may be called from
// any other thread and makes a blocked Next() return.
//
// Next() returns, after the events received so far:
//   - DeadlineExceeded when the server ended the stream (its timeout): watch
//     again from the last resourceVersion;
//   - Aborted after Stop();
//   - Unavailable when the connection broke;
//   - InvalidArgument when the stream carried a malformed line.
// An ERROR event is returned as an event (type kError, status set); servers
// end the stream after it.
class Watch {
 public:
  ~Watch();
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  base::StatusOr<WatchEvent> Next();
  void Stop();

  // Creates a watch fed by `open`, which must start the stream with the two
  // callbacks it is given (Transport::OpenStream). Used by Client::Watch.
  using Opener = std::function<base::StatusOr<std::unique_ptr<Transport::Stream>>(
      Transport::ChunkFn, Transport::DoneFn)>;
  static base::StatusOr<std::unique_ptr<Watch>> Open(const Opener& open);

 private:
  Watch() = default;
  bool OnChunk(std::string_view data);
  void OnDone(const base::Status& s);
  void Push(base::StatusOr<WatchEvent> ev);

  // Bounded so that a slow consumer slows the connection instead of growing
  // memory without limit.
  static constexpr size_t kMaxQueued = 1024;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<base::StatusOr<WatchEvent>> queue_;
  std::optional<base::Status> end_;  // set when the stream ended
  bool stopped_ = false;
  std::string partial_;  // bytes after the last newline (stream thread only)
  std::unique_ptr<Transport::Stream> stream_;
};

}  // namespace kube
