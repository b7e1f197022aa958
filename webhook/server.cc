#include "webhook/server.h"

#include <httplib.h>

#include <exception>
#include <thread>
#include <utility>

namespace webhook {
namespace {

thread_local bool t_counted = false;

// Converts one request for the handler and its response back. HEAD requests
// arrive as GET handlers in cpp-httplib, which drops the body itself.
void Dispatch(const HttpHandler& handler, const httplib::Request& req, httplib::Response& res) {
  HttpRequest in;
  in.method = req.method;
  in.path = req.path;
  in.content_type = req.get_header_value("Content-Type");
  in.body = req.body;
  HttpResponse out = handler(in);
  res.status = out.status;
  for (auto& [name, value] : out.headers) res.set_header(name.c_str(), value);
  res.set_content(std::move(out.body), out.content_type.c_str());
}

std::string ErrorJson(int code, const std::string& message) {
  std::string escaped;
  for (char c : message) {
    if (c == '"' || c == '\\') escaped += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) escaped += c;
  }
  return "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"" +
         escaped + "\",\"code\":" + std::to_string(code) + "}";
}

}  // namespace

kube::StatusOr<std::unique_ptr<Server>> Server::Create(const ServerOptions& options,
                                                       CertReloader* certs, HttpHandler handler) {
  std::unique_ptr<Server> s(new Server());
  s->handler_ = std::move(handler);
  kube::Status tls_status;
  s->http_ = std::make_unique<httplib::SSLServer>([&](SSL_CTX& ctx) {
    tls_status = certs->ConfigureContext(&ctx, options.client_ca_file);
    return tls_status.ok();
  });
  if (!tls_status.ok()) return tls_status;
  if (!s->http_->is_valid()) return kube::Internal("cannot create the TLS server");

  httplib::SSLServer& h = *s->http_;
  h.set_tcp_nodelay(true);
  h.set_keep_alive_max_count(options.keep_alive_max_count);
  h.set_keep_alive_timeout(options.keep_alive_timeout.count());
  h.set_read_timeout(options.read_timeout);
  h.set_write_timeout(options.write_timeout);
  h.set_payload_max_length(options.max_body_bytes);
  const int threads = options.threads;
  h.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };

  // Every method on every path goes to the one handler, which answers 404
  // and 405 itself; cpp-httplib only sees the methods it knows.
  Server* raw = s.get();
  auto route = [raw](const httplib::Request& req, httplib::Response& res) {
    Dispatch(raw->handler_, req, res);
  };
  h.Get(".*", route);
  h.Post(".*", route);
  h.Put(".*", route);
  h.Patch(".*", route);
  h.Delete(".*", route);
  h.Options(".*", route);
  h.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        res.status = 500;
        res.set_content(ErrorJson(500, "internal error: " + what), "application/json");
      });
  // Errors that cpp-httplib produces itself (413 over the body limit, 400
  // for a malformed request line) get a Status body instead of an empty one.
  h.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string text = res.status == 413   ? "request body exceeds the limit"
                       : res.status == 400 ? "malformed HTTP request"
                                           : "request failed";
    res.set_content(ErrorJson(res.status, text), "application/json");
  });

  // Requests in progress, for Drain(): counted from routing (headers read)
  // until the logger, which cpp-httplib calls once the response is written.
  // Both run on the connection's thread; the thread-local flag pairs them,
  // because responses that cpp-httplib makes itself (a malformed request
  // line) reach the logger without passing routing.
  h.set_pre_routing_handler([raw](const httplib::Request&, httplib::Response&) {
    t_counted = true;
    ++raw->active_;
    return httplib::Server::HandlerResponse::Unhandled;
  });
  h.set_logger([raw](const httplib::Request&, const httplib::Response&) {
    if (!t_counted) return;
    t_counted = false;
    if (--raw->active_ == 0) {
      std::lock_guard<std::mutex> lock(raw->drain_mu_);
      raw->drain_cv_.notify_all();
    }
  });

  if (options.port == 0) {
    int port = h.bind_to_any_port(options.bind_address);
    if (port <= 0) {
      return kube::Unavailable("cannot bind " + options.bind_address + " on any port");
    }
    s->port_ = port;
  } else {
    if (!h.bind_to_port(options.bind_address, options.port)) {
      return kube::Unavailable("cannot bind " + options.bind_address + ":" +
                               std::to_string(options.port));
    }
    s->port_ = options.port;
  }
  return s;
}

Server::~Server() { Stop(); }

kube::Status Server::Serve() {
  serving_ = true;
  bool ok = stop_requested_ || http_->listen_after_bind();
  serving_ = false;
  if (!ok) return kube::Internal("the HTTPS listener failed");
  return kube::Status::Ok();
}

void Server::Stop() {
  stop_requested_ = true;
  if (!http_) return;
  // cpp-httplib's stop() does nothing until the listener runs: a Stop() that
  // lands between Serve()'s check and the listener's start waits for it, so
  // that no stop request is lost.
  while (serving_ && !http_->is_running()) std::this_thread::yield();
  http_->stop();
}

bool Server::Drain(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(drain_mu_);
  return drain_cv_.wait_for(lock, timeout, [this] { return active_ == 0; });
}

}  // namespace webhook
