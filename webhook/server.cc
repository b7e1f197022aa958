#include "webhook/server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <string_view>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include "webhook/http1.h"

namespace webhook {
namespace {

using Clock = std::chrono::steady_clock;

// How often each loop looks for connections past their deadline.
constexpr auto kSweepInterval = std::chrono::milliseconds(100);
// After an error response, the rest of the request is read and dropped for at
// most this long (and this many bytes) before the connection is closed.
constexpr auto kMaxLinger = std::chrono::seconds(2);
constexpr size_t kMaxLingerBytes = 8 << 20;
// Backing off from accept() when the process is out of file descriptors.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);

int DefaultThreads() {
  cpu_set_t set;
  CPU_ZERO(&set);
  int n = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
  return std::clamp(n, 1, 8);
}

// A client connection, owned by one loop.
struct Conn {
  enum class Phase { kHandshake, kOpen, kLinger };

  explicit Conn(const Http1Limits& limits) : parser(limits) {}

  int fd = -1;
  SSL* ssl = nullptr;
  Phase phase = Phase::kHandshake;
  uint32_t events = 0;  // the epoll interest currently registered
  bool closed = false;  // freed at the end of the loop iteration
  Clock::time_point deadline;
  // Counted in Impl::active (Drain waits for it): from the first byte of a
  // request until its response is written or the connection is gone.
  bool busy = false;

  std::string in;              // received, not yet consumed
  size_t in_off = 0;           // where the current request starts in `in`
  bool request_begun = false;  // `in` holds part of a request
  bool parsing = false;        // the parser has seen part of the current request
  RequestParser parser;
  bool continue_sent = false;
  size_t requests = 0;

  std::string out;  // responses not yet written
  size_t out_off = 0;
  bool write_blocked = false;  // the last write waited for the socket
  bool close_after_flush = false;
  size_t lingered = 0;
};

char kListenTag, kWakeTag;  // epoll data for the two fds that are not connections

// Reads per wake-up of one connection before the loop turns to the others.
constexpr int kReadBudget = 16;
// Buffers grown past this by a large request are released once it is done.
constexpr size_t kKeepCapacity = 64 * 1024;

}  // namespace

struct Server::Impl {
  class Loop;

  ~Impl();
  void Notify() {
    std::lock_guard<std::mutex> lock(drain_mu);
    drain_cv.notify_all();
  }
  void Finished() {
    if (--active == 0) Notify();
  }

  ServerOptions options;
  Http1Limits limits;
  HttpHandler handler;
  SSL_CTX* ctx = nullptr;
  int listen_fd = -1;
  int port = 0;
  std::vector<std::unique_ptr<Loop>> loops;
  std::atomic<bool> stop{false};
  std::atomic<bool> serving{false};
  std::atomic<int> stopped_loops{0};  // loops that have closed their idle connections
  std::atomic<int> active{0};         // busy connections (Conn::busy)
  std::atomic<int> connections{0};
  std::mutex drain_mu;
  std::condition_variable drain_cv;
};

// One epoll instance and the connections it accepted. Every member is used by
// the loop's thread only, except Wake().
class Server::Impl::Loop {
 public:
  explicit Loop(Impl* server) : s_(server) {}
  ~Loop() {
    for (Conn* c : conns_) Free(c);
    for (Conn* c : dead_) delete c;
    if (epfd_ >= 0) close(epfd_);
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  base::Status Init() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (epfd_ < 0 || wake_fd_ < 0) {
      return base::Internal(std::string("cannot create the event loop: ") + std::strerror(errno));
    }
    epoll_event we{};
    we.events = EPOLLIN;
    we.data.ptr = &kWakeTag;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_fd_, &we) != 0 || !Listen(true)) {
      return base::Internal(std::string("cannot set up the event loop: ") + std::strerror(errno));
    }
    return base::Status::Ok();
  }

  void Wake() {
    uint64_t one = 1;
    (void)!write(wake_fd_, &one, sizeof one);
  }

  void Run() {
    // A write to a connection the client has closed raises SIGPIPE, which
    // would kill the process unless it is ignored (main() does, a test binary
    // need not). Blocked on this thread, the write just fails with EPIPE.
    sigset_t pipe_signal, old_mask;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, &old_mask);
    RunLoop();
    // Consume any SIGPIPE left pending before the caller's mask comes back.
    timespec zero{};
    while (sigtimedwait(&pipe_signal, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  }

 private:
  void RunLoop() {
    if (s_->stop) BeginStop();
    epoll_event events[128];
    Clock::time_point next_sweep = Clock::now() + kSweepInterval;
    while (!(stopping_ && conns_.empty())) {
      int timeout = -1;
      if (!ready_.empty()) {
        timeout = 0;
      } else if (!conns_.empty() || accept_paused_) {
        timeout = static_cast<int>(kSweepInterval.count());
      }
      int n = epoll_wait(epfd_, events, 128, timeout);
      now_ = Clock::now();
      for (int i = 0; i < n; ++i) {
        void* tag = events[i].data.ptr;
        if (tag == &kListenTag) {
          Accept();
        } else if (tag == &kWakeTag) {
          uint64_t count;
          while (read(wake_fd_, &count, sizeof count) > 0) {
          }
          if (s_->stop && !stopping_) BeginStop();
        } else {
          Step(*static_cast<Conn*>(tag));
        }
      }
      // Connections that used up their read budget with input still inside
      // OpenSSL, where epoll cannot see it.
      std::vector<Conn*> ready;
      ready.swap(ready_);
      for (Conn* c : ready) Step(*c);
      if (now_ >= next_sweep) {
        Sweep();
        next_sweep = now_ + kSweepInterval;
      }
      for (Conn* c : dead_) delete c;
      dead_.clear();
    }
  }

  bool Listen(bool on) {
    if (on == listening_) return true;
    epoll_event le{};
    le.events = EPOLLIN | EPOLLEXCLUSIVE;
    le.data.ptr = &kListenTag;
    if (epoll_ctl(epfd_, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s_->listen_fd, &le) != 0) return false;
    listening_ = on;
    return true;
  }

  void Accept() {
    for (int i = 0; i < 64 && !stopping_; ++i) {
      int fd = accept4(s_->listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of descriptors or memory: stop listening for a moment rather
          // than spin on a listener that stays readable.
          Listen(false);
          accept_paused_ = true;
          resume_accept_ = now_ + kAcceptPause;
        }
        return;
      }
      if (s_->connections >= s_->options.max_connections) {
        close(fd);  // refused at once rather than left waiting in the backlog
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      SSL* ssl = SSL_new(s_->ctx);
      if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
        if (ssl != nullptr) SSL_free(ssl);
        close(fd);
        continue;
      }
      SSL_set_accept_state(ssl);
      auto* c = new Conn(s_->limits);
      c->fd = fd;
      c->ssl = ssl;
      c->deadline = now_ + s_->options.read_timeout;
      c->events = EPOLLIN;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.ptr = c;
      if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
        Free(c);
        continue;
      }
      conns_.insert(c);
      ++s_->connections;
    }
  }

  void Want(Conn& c, uint32_t events) {
    if (c.events == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = &c;
    if (epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) {
      Close(c, false);
      return;
    }
    c.events = events;
  }

  // After an OpenSSL call that did not complete: waits for the socket it
  // needs, or closes the connection on any other outcome.
  void WaitOrClose(Conn& c, int ssl_error) {
    if (ssl_error == SSL_ERROR_WANT_READ) {
      Want(c, EPOLLIN);
    } else if (ssl_error == SSL_ERROR_WANT_WRITE) {
      Want(c, EPOLLOUT);
    } else {
      Close(c, false);
    }
  }

  // Drives a connection and keeps its `busy` mark true to its state.
  void Step(Conn& c) {
    if (c.closed) return;
    try {
      Drive(c);
    } catch (const std::exception&) {
      Close(c, false);  // out of memory for this connection's buffers
    }
    if (c.closed) return;
    bool busy = c.request_begun || c.out_off < c.out.size();
    if (busy != c.busy) {
      c.busy = busy;
      if (busy) {
        ++s_->active;
      } else {
        s_->Finished();
      }
    }
  }

  void MarkBusy(Conn& c) {
    if (c.busy) return;
    c.busy = true;
    ++s_->active;
  }

  // Advances the connection as far as its socket allows.
  void Drive(Conn& c) {
    if (c.phase == Conn::Phase::kLinger) {
      DropInput(c);
      return;
    }
    if (c.phase == Conn::Phase::kHandshake) {
      ERR_clear_error();
      int r = SSL_do_handshake(c.ssl);
      if (r != 1) {
        // Closed on a refused version, cipher or client certificate.
        WaitOrClose(c, SSL_get_error(c.ssl, r));
        return;
      }
      c.phase = Conn::Phase::kOpen;
      c.deadline = now_ + s_->options.keep_alive_timeout;
      Want(c, EPOLLIN);
      if (c.closed) return;
    }
    if (c.out_off < c.out.size() && !Flush(c)) return;
    if (c.close_after_flush) {
      Finish(c);
      return;
    }
    static thread_local char buf[32 * 1024];
    for (int reads = 0;; ++reads) {
      if (reads == kReadBudget) {
        // Fair turns: a client that never stops sending must not hold the
        // loop. Bytes the socket still has wake epoll again; bytes already
        // inside OpenSSL do not, so such connections are queued.
        if (SSL_has_pending(c.ssl)) ready_.push_back(&c);
        return;
      }
      ERR_clear_error();
      int n = SSL_read(c.ssl, buf, sizeof buf);
      if (n <= 0) {
        WaitOrClose(c, SSL_get_error(c.ssl, n));  // closed: end of stream, reset, TLS error
        return;
      }
      // Counted from its first byte: a Drain() that starts while a request
      // is in the handler waits for it.
      MarkBusy(c);
      c.in.append(buf, static_cast<size_t>(n));
      Process(c);
      if (c.out_off < c.out.size() && !Flush(c)) return;
      if (c.close_after_flush) {
        Finish(c);
        return;
      }
      // Between requests with nothing buffered in OpenSSL, epoll (level-
      // triggered) reports any further bytes: this saves the read() that
      // would only say EAGAIN.
      if (!c.request_begun && !SSL_has_pending(c.ssl)) return;
    }
  }

  // Answers every complete request in `in`; the responses go to `out`.
  void Process(Conn& c) {
    const bool was_begun = c.request_begun;
    bool completed = false;
    while (true) {
      if (!c.parsing) {
        // Line breaks between requests are not the start of one (RFC 9112
        // 2.2), so they do not turn the idle timeout into a request timeout.
        while (c.in_off < c.in.size() && (c.in[c.in_off] == '\r' || c.in[c.in_off] == '\n')) {
          ++c.in_off;
        }
      }
      if (c.in_off == c.in.size()) break;
      std::string_view data(c.in.data() + c.in_off, c.in.size() - c.in_off);
      RequestParser::Result r = c.parser.Parse(data);
      if (r == RequestParser::Result::kNeedMore) {
        c.parsing = true;
        if (c.parser.headers_done() && c.parser.expects_continue() && !c.continue_sent) {
          c.out.append("HTTP/1.1 100 Continue\r\n\r\n");
          c.continue_sent = true;
        }
        break;
      }
      if (r == RequestParser::Result::kError) {
        Refuse(c, c.parser.error_status(), c.parser.error_message());
        return;
      }
      c.in_off += c.parser.consumed();
      c.parsing = false;
      completed = true;
      ++c.requests;
      const bool close =
          !c.parser.keep_alive() || stopping_ || c.requests >= s_->options.keep_alive_max_count;
      AppendResponse(Call(c.parser.request()), c.parser.head(), close, &c.out);
      c.parser.Reset();
      c.continue_sent = false;
      if (close) {
        c.close_after_flush = true;
        c.in.clear();  // anything after a closing request is not answered
        c.in_off = 0;
        break;
      }
    }
    if (c.in_off == c.in.size()) {
      c.in.clear();
      c.in_off = 0;
      if (c.in.capacity() > kKeepCapacity) std::string().swap(c.in);
    } else if (c.in_off > 0) {
      c.in.erase(0, c.in_off);
      c.in_off = 0;
    }
    c.request_begun = !c.in.empty();
    if (c.request_begun && (completed || !was_begun)) {
      c.deadline = now_ + s_->options.read_timeout;  // a new request began
    } else if (!c.request_begun && (completed || was_begun)) {
      c.deadline = now_ + s_->options.keep_alive_timeout;
    }
  }

  HttpResponse Call(const HttpRequest& request) {
    std::string what = "unknown exception";
    try {
      return s_->handler(request);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    return StatusResponse(500, "internal error: " + what);
  }

  // An error the server answers itself: the response, then close.
  void Refuse(Conn& c, int status, const std::string& message) {
    AppendResponse(StatusResponse(status, message), false, true, &c.out);
    c.close_after_flush = true;
    c.in.clear();
    c.in_off = 0;
    c.request_begun = c.parsing = false;
  }

  // Writes `out`. True when all of it is written; false when the socket is
  // full (the loop comes back when it drains) or the connection was closed.
  bool Flush(Conn& c) {
    while (c.out_off < c.out.size()) {
      ERR_clear_error();
      size_t len = std::min<size_t>(c.out.size() - c.out_off, 1 << 20);
      int n = SSL_write(c.ssl, c.out.data() + c.out_off, static_cast<int>(len));
      if (n > 0) {
        c.out_off += static_cast<size_t>(n);
        continue;
      }
      c.write_blocked = true;
      c.deadline = now_ + s_->options.write_timeout;
      WaitOrClose(c, SSL_get_error(c.ssl, n));
      return false;
    }
    c.out.clear();
    c.out_off = 0;
    if (c.out.capacity() > kKeepCapacity) std::string().swap(c.out);
    if (c.write_blocked) {
      c.write_blocked = false;
      c.deadline =
          now_ + (c.request_begun ? s_->options.read_timeout
                                  : std::chrono::milliseconds(s_->options.keep_alive_timeout));
    }
    Want(c, EPOLLIN);
    return !c.closed;
  }

  // Everything is written and the connection ends. The client may still be
  // sending (the rest of a refused request, or a pipelined one); closing with
  // unread input would reset the connection and could destroy the response
  // before the client reads it. So: goodbye, stop sending, and read until the
  // client closes too (bounded).
  void Finish(Conn& c) {
    ERR_clear_error();
    SSL_shutdown(c.ssl);
    shutdown(c.fd, SHUT_WR);
    c.phase = Conn::Phase::kLinger;
    c.request_begun = c.parsing = false;
    c.deadline = now_ + std::min<Clock::duration>(s_->options.read_timeout, kMaxLinger);
    Want(c, EPOLLIN);
    if (!c.closed) DropInput(c);
  }

  void DropInput(Conn& c) {
    static thread_local char buf[32 * 1024];
    while (true) {
      ssize_t n = read(c.fd, buf, sizeof buf);
      if (n > 0) {
        c.lingered += static_cast<size_t>(n);
        if (c.lingered > kMaxLingerBytes) break;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
      break;  // the client closed, or an error
    }
    Close(c, false);
  }

  void Close(Conn& c, bool notify) {
    if (c.closed) return;
    c.closed = true;
    if (c.busy) {
      c.busy = false;
      s_->Finished();
    }
    --s_->connections;
    conns_.erase(&c);
    dead_.push_back(&c);
    if (notify && c.phase == Conn::Phase::kOpen) {
      ERR_clear_error();
      SSL_shutdown(c.ssl);  // close_notify, best effort
    }
    SSL_free(c.ssl);
    c.ssl = nullptr;
    close(c.fd);  // also leaves the epoll set
    c.fd = -1;
  }

  static void Free(Conn* c) {
    if (c->ssl != nullptr) SSL_free(c->ssl);
    if (c->fd >= 0) close(c->fd);
    delete c;
  }

  void Sweep() {
    if (accept_paused_ && now_ >= resume_accept_ && !stopping_) {
      accept_paused_ = !Listen(true);
      resume_accept_ = now_ + kAcceptPause;
    }
    std::vector<Conn*> expired;
    for (Conn* c : conns_) {
      if (now_ >= c->deadline) expired.push_back(c);
    }
    for (Conn* c : expired) {
      if (c->phase != Conn::Phase::kOpen || c->out_off < c->out.size() || c->close_after_flush) {
        Close(*c, false);  // handshake, write or linger timeout
      } else if (c->request_begun) {
        Refuse(*c, 408,
               "request not received in full within " +
                   std::to_string(s_->options.read_timeout.count()) + "ms");
        if (Flush(*c)) Finish(*c);
        if (!c->closed && c->busy && c->out_off == c->out.size()) {
          c->busy = false;
          s_->Finished();
        }
      } else {
        Close(*c, true);  // idle keep-alive connection
      }
    }
  }

  // Stop(): no new connections; idle ones close now (after a last look for
  // a request already in their socket), busy ones after their response.
  void BeginStop() {
    stopping_ = true;
    Listen(false);
    accept_paused_ = false;
    std::vector<Conn*> all(conns_.begin(), conns_.end());
    for (Conn* c : all) {
      if (c->phase == Conn::Phase::kHandshake) {
        Close(*c, false);
        continue;
      }
      if (c->phase != Conn::Phase::kOpen) continue;  // lingering: ends by itself
      if (!c->request_begun && c->out_off == c->out.size()) Step(*c);
      if (c->closed) continue;
      if (!c->request_begun && c->out_off == c->out.size()) {
        Close(*c, true);
      } else if (!c->request_begun) {
        c->close_after_flush = true;  // its response is being written
      }
    }
    ++s_->stopped_loops;
    s_->Notify();
  }

  Impl* s_;
  int epfd_ = -1;
  int wake_fd_ = -1;
  bool listening_ = false;
  bool accept_paused_ = false;
  bool stopping_ = false;
  Clock::time_point now_ = Clock::now();
  Clock::time_point resume_accept_;
  std::unordered_set<Conn*> conns_;
  std::vector<Conn*> dead_;
  std::vector<Conn*> ready_;
};

Server::Impl::~Impl() {
  loops.clear();
  if (listen_fd >= 0) close(listen_fd);
  if (ctx != nullptr) SSL_CTX_free(ctx);
}

Server::Server() : impl_(std::make_unique<Impl>()) {}
Server::~Server() { Stop(); }

int Server::port() const { return impl_->port; }
int Server::active_requests() const { return impl_->active; }

base::StatusOr<std::unique_ptr<Server>> Server::Create(const ServerOptions& options,
                                                       CertReloader* certs, HttpHandler handler) {
  std::unique_ptr<Server> server(new Server());
  Impl& s = *server->impl_;
  s.options = options;
  s.limits.max_body_bytes = options.max_body_bytes;
  s.handler = std::move(handler);

  s.ctx = SSL_CTX_new(TLS_server_method());
  if (s.ctx == nullptr) return base::Internal("cannot create the TLS context");
  base::Status tls = certs->ConfigureContext(s.ctx, options.client_ca_file);
  if (!tls.ok()) return tls;
  static const unsigned char kSessionContext[] = "migration-webhook";
  SSL_CTX_set_session_id_context(s.ctx, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_mode(s.ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_read_ahead(s.ctx, 1);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string where = options.bind_address + ":" + std::to_string(options.port);
  if (getaddrinfo(options.bind_address.c_str(), std::to_string(options.port).c_str(), &hints,
                  &found) != 0 ||
      found == nullptr) {
    return base::Unavailable("cannot resolve the bind address " + options.bind_address);
  }
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  bool bound = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
               bind(fd, found->ai_addr, found->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0;
  std::string why = std::strerror(errno);
  freeaddrinfo(found);
  if (fd >= 0) s.listen_fd = fd;
  if (!bound) return base::Unavailable("cannot listen on " + where + ": " + why);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  s.port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);

  const int threads = options.threads > 0 ? options.threads : DefaultThreads();
  for (int i = 0; i < threads; ++i) {
    s.loops.push_back(std::make_unique<Impl::Loop>(&s));
    base::Status st = s.loops.back()->Init();
    if (!st.ok()) return st;
  }
  return server;
}

base::Status Server::Serve() {
  Impl& s = *impl_;
  if (s.stop) return base::Status::Ok();
  s.serving = true;
  std::vector<std::thread> others;
  for (size_t i = 1; i < s.loops.size(); ++i) {
    others.emplace_back([loop = s.loops[i].get()] { loop->Run(); });
  }
  s.loops[0]->Run();
  for (std::thread& t : others) t.join();
  s.serving = false;
  s.Notify();
  return base::Status::Ok();
}

void Server::Stop() {
  Impl& s = *impl_;
  if (!s.stop.exchange(true) && s.listen_fd >= 0) {
    // A listening socket that is shut down stops accepting at once: new
    // connections are refused even before the loops close it.
    shutdown(s.listen_fd, SHUT_RDWR);
  }
  for (auto& loop : s.loops) loop->Wake();
}

bool Server::Drain(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  std::unique_lock<std::mutex> lock(s.drain_mu);
  // After Stop(), also until every loop has looked at its idle connections
  // one last time: a request already in a socket is then counted.
  return s.drain_cv.wait_for(lock, timeout, [&s] {
    return s.active == 0 &&
           (!s.stop || !s.serving || s.stopped_loops == static_cast<int>(s.loops.size()));
  });
}

}  // namespace webhook
