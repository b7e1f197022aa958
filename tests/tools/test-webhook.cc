// test-webhook: a small HTTPS AdmissionReview (admission.k8s.io/v1) server for
// integration tests. It allows everything, or denies everything with a fixed
// message, adds fixed warnings, can answer slowly, and can log every request
// it receives. It always echoes request.uid.
//
//   test-webhook --cert FILE --key FILE [--port N] [--address HOST]
//                [--deny MESSAGE] [--code N] [--reason REASON]
//                [--warn TEXT]... [--log FILE] [--delay-ms N]
//
// --port 0 (the default) picks a free port. Once it serves, it prints
// "test-webhook listening on PORT" on stdout. It stops on SIGTERM or SIGINT.
// Exit codes: 0 after a signal, 2 for bad flags, 1 when it cannot serve.
#include <httplib.h>
#include <openssl/ssl.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options {
  std::string cert, key;
  std::string address = "127.0.0.1";
  int port = 0;
  std::optional<std::string> deny;
  int code = 403;
  std::string reason;
  std::vector<std::string> warnings;
  std::string log;
  int delay_ms = 0;
};

constexpr char kUsage[] =
    "usage: test-webhook --cert FILE --key FILE [--port N] [--address HOST] [--deny MESSAGE]\n"
    "                    [--code N] [--reason REASON] [--warn TEXT]... [--log FILE]\n"
    "                    [--delay-ms N]\n";

std::optional<int> ParseInt(const std::string& s, int min, int max) {
  int v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < min || v > max) return std::nullopt;
  return v;
}

// Every problem is reported at once; nullopt when there was any.
std::optional<Options> ParseFlags(int argc, char** argv) {
  Options o;
  std::vector<std::string> errors;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    std::string value;
    size_t eq = flag.find('=');
    if (flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      errors.push_back(flag + ": missing value");
      break;
    }
    auto int_flag = [&](int* out, int min, int max) {
      if (auto v = ParseInt(value, min, max)) {
        *out = *v;
      } else {
        errors.push_back(flag + ": want an integer in [" + std::to_string(min) + ", " +
                         std::to_string(max) + "], got \"" + value + "\"");
      }
    };
    if (flag == "--cert") {
      o.cert = value;
    } else if (flag == "--key") {
      o.key = value;
    } else if (flag == "--address") {
      o.address = value;
    } else if (flag == "--port") {
      int_flag(&o.port, 0, 65535);
    } else if (flag == "--deny") {
      o.deny = value;
    } else if (flag == "--code") {
      int_flag(&o.code, 100, 599);
    } else if (flag == "--reason") {
      o.reason = value;
    } else if (flag == "--warn") {
      o.warnings.push_back(value);
    } else if (flag == "--log") {
      o.log = value;
    } else if (flag == "--delay-ms") {
      int_flag(&o.delay_ms, 0, 3600 * 1000);
    } else {
      errors.push_back("unknown flag " + flag);
    }
  }
  if (o.cert.empty()) errors.push_back("--cert is required");
  if (o.key.empty()) errors.push_back("--key is required");
  if (errors.empty()) return o;
  for (const std::string& e : errors) std::cerr << "test-webhook: " << e << "\n";
  std::cerr << kUsage;
  return std::nullopt;
}

std::string Compact(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string Response(const Options& o, const std::string& uid) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("apiVersion");
  w.String("admission.k8s.io/v1");
  w.Key("kind");
  w.String("AdmissionReview");
  w.Key("response");
  w.StartObject();
  w.Key("uid");
  w.String(uid.c_str());
  w.Key("allowed");
  w.Bool(!o.deny);
  if (o.deny) {
    w.Key("status");
    w.StartObject();
    w.Key("code");
    w.Int(o.code);
    if (!o.reason.empty()) {
      w.Key("reason");
      w.String(o.reason.c_str());
    }
    w.Key("message");
    w.String(o.deny->c_str());
    w.EndObject();
  }
  if (!o.warnings.empty()) {
    w.Key("warnings");
    w.StartArray();
    for (const std::string& text : o.warnings) w.String(text.c_str());
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<Options> opts = ParseFlags(argc, argv);
  if (!opts) return 2;
  const Options& o = *opts;

  // Signals are taken by one thread with sigwait, so stop() never runs in a
  // signal handler. Blocked before any thread starts, so all inherit it.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::ofstream log_file;
  if (!o.log.empty()) {
    log_file.open(o.log, std::ios::app);
    if (!log_file) {
      std::cerr << "test-webhook: cannot open --log " << o.log << "\n";
      return 1;
    }
  }
  std::mutex log_mu;

  httplib::SSLServer svr(o.cert.c_str(), o.key.c_str());
  if (!svr.is_valid()) {
    std::cerr << "test-webhook: cannot load --cert/--key\n";
    return 1;
  }
  SSL_CTX_set_min_proto_version(svr.ssl_context(), TLS1_2_VERSION);
  svr.set_payload_max_length(3 * 1024 * 1024);

  svr.Post(".*", [&](const httplib::Request& req, httplib::Response& res) {
    rapidjson::Document doc;
    doc.Parse(req.body.c_str());
    const rapidjson::Value* uid = nullptr;
    if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("request") &&
        doc["request"].IsObject() && doc["request"].HasMember("uid") &&
        doc["request"]["uid"].IsString()) {
      uid = &doc["request"]["uid"];
    }
    if (uid == nullptr) {
      res.status = 400;
      res.set_content("expected an AdmissionReview with request.uid\n", "text/plain");
      return;
    }
    if (log_file.is_open()) {
      std::lock_guard<std::mutex> lock(log_mu);
      log_file << Compact(doc) << "\n";
      log_file.flush();
    }
    if (o.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(o.delay_ms));
    res.set_content(Response(o, uid->GetString()), "application/json");
  });
  svr.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok", "text/plain");
  });

  int port = o.port;
  if (port == 0) {
    port = svr.bind_to_any_port(o.address);
    if (port <= 0) {
      std::cerr << "test-webhook: cannot bind " << o.address << "\n";
      return 1;
    }
  } else if (!svr.bind_to_port(o.address, port)) {
    std::cerr << "test-webhook: cannot bind " << o.address << ":" << port << "\n";
    return 1;
  }

  std::thread([&svr, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    // stop() is a no-op until the accept loop runs; wait for it.
    while (!svr.is_running()) std::this_thread::yield();
    svr.stop();
  }).detach();

  // The socket is listening already, so clients may connect from here on.
  std::printf("test-webhook listening on %d\n", port);
  std::fflush(stdout);
  if (!svr.listen_after_bind()) {
    std::cerr << "test-webhook: serving failed\n";
    return 1;
  }
  return 0;
}
