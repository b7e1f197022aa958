#include "plugin/commands.h"

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <thread>

#include "api/admission.h"
#include "api/names.h"
#include "api/types.h"
#include "base/clock.h"
#include "base/flags.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "kube/object.h"
#include "plugin/evacuate.h"
#include "plugin/progress.h"
#include "plugin/view.h"
#include "plugin/yaml_out.h"

namespace plugin {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

const kube::ResourceRef kVMIMRef{"kubevirt.io", "v1", "virtualmachineinstancemigrations", true};
const kube::ResourceRef kVMIRef{"kubevirt.io", "v1", "virtualmachineinstances", true};
const kube::ResourceRef kNodeRef{"", "v1", "nodes", false};
constexpr const char* kVMIMResource = "virtualmachineinstancemigration.kubevirt.io";

// A non-terminal progress line at most this often (plus one per phase change).
constexpr seconds kPlainInterval{5};
// The terminal line is redrawn at least this often so "elapsed" moves.
constexpr std::chrono::milliseconds kTick{500};

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

// ------------------------------------------------------------------ watching

// Follows one object by name with a watch, reconnecting when the server ends
// the stream or the connection breaks, and relisting (resourceVersion "") when
// the version expired. Events go to `on_event` on the watch thread.
class ObjectWatch {
 public:
  using Handler = std::function<void(kube::WatchEvent::Type, const kube::Object&)>;
  ObjectWatch(kube::Client* client, kube::ResourceRef ref, std::string ns, std::string name,
              std::string resource_version, Handler on_event)
      : client_(client),
        ref_(std::move(ref)),
        ns_(std::move(ns)),
        name_(std::move(name)),
        rv_(std::move(resource_version)),
        on_event_(std::move(on_event)),
        thread_([this] { Loop(); }) {}
  ~ObjectWatch() {
    Stop();
    thread_.join();
  }
  void Stop() {
    std::lock_guard<std::mutex> l(mu_);
    stopped_ = true;
    if (current_ != nullptr) current_->Stop();
    cv_.notify_all();
  }

 private:
  void Loop() {
    while (true) {
      kube::WatchOptions wo;
      wo.resource_version = rv_;
      wo.field_selector = "metadata.name=" + name_;
      wo.timeout_seconds = 300;
      {
        std::lock_guard<std::mutex> l(mu_);
        if (stopped_) return;
      }
      auto w = client_->Watch(ref_, ns_, wo);
      if (w.ok()) {
        {
          std::lock_guard<std::mutex> l(mu_);
          if (stopped_) return;
          current_ = w->get();
        }
        while (true) {
          auto ev = (*w)->Next();
          if (!ev.ok()) break;
          if (ev->type == kube::WatchEvent::Type::kError) {
            if (ev->status.code() == base::Code::kOutOfRange) rv_.clear();
            break;
          }
          if (!ev->object.resource_version.empty()) rv_ = ev->object.resource_version;
          if (ev->type != kube::WatchEvent::Type::kBookmark) on_event_(ev->type, ev->object);
        }
        std::lock_guard<std::mutex> l(mu_);
        current_ = nullptr;
      } else if (w.status().code() == base::Code::kOutOfRange) {
        rv_.clear();
      }
      // A short pause before reconnecting, so a failing server is not hammered;
      // Stop() cuts it short.
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait_for(l, std::chrono::milliseconds(200), [this] { return stopped_; });
      if (stopped_) return;
    }
  }

  kube::Client* client_;
  kube::ResourceRef ref_;
  std::string ns_, name_, rv_;
  Handler on_event_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  kube::Watch* current_ = nullptr;  // guarded by mu_
  std::thread thread_;              // last: starts after the fields above exist
};

// Marks the interrupter as waiting for the life of a wait.
class WaitingScope {
 public:
  explicit WaitingScope(Interrupter& i) : i_(i) {
    std::lock_guard<std::mutex> l(i_.mu);
    i_.waiting_ = true;
  }
  ~WaitingScope() {
    std::lock_guard<std::mutex> l(i_.mu);
    i_.waiting_ = false;
  }

 private:
  Interrupter& i_;
};

// ------------------------------------------------------------------ helpers

std::string Str(const kube::Object& o, std::string_view path) {
  return kube::StringField(o, path).value_or("");
}

// One cell of `list`: ASCII without spaces, so that `awk` and `cut` split the
// columns; "<none>" for an empty value, as kubectl prints one. Whatever a
// stored value holds that does not fit (a space, a control or non-ASCII
// byte) becomes '_'.
std::string TableCell(std::string s) {
  if (s.empty()) return "<none>";
  for (char& c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u >= 0x7f) c = '_';
  }
  return s;
}

// Whether a refused create was refused for a limit only: HTTP 429, or a
// cause (status.details.causes[].reason) naming a migration limit. The
// webhook's limit denial carries no Retry-After (so that kubectl shows it at
// once); --retry-on-limit knows it by these.
bool IsLimitDenial(const base::Status& s) {
  if (s.http_code() == 429) return true;
  if (s.details_json().empty()) return false;
  rapidjson::Document d;
  d.Parse(s.details_json().data(), s.details_json().size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("causes") || !d["causes"].IsArray()) {
    return false;
  }
  bool limit = false;
  for (const auto& c : d["causes"].GetArray()) {
    if (!c.IsObject() || !c.HasMember("reason") || !c["reason"].IsString()) return false;
    std::string_view reason(c["reason"].GetString(), c["reason"].GetStringLength());
    if (reason != api::kCauseClusterLimitReached && reason != api::kCauseNodeLimitReached) {
      return false;
    }
    limit = true;
  }
  return limit;
}

// A VirtualMachineInstanceMigration of `vmi` in `ns` named by
// `generate_name`: the label KubeVirt's tools select on (kubevirt.io/vmi-name;
// a VMI name is a DNS-1123 subdomain of up to 253 characters, a label value at
// most 63: a longer name gets none, and nothing here finds migrations by it),
// `labels`, and spec.addedNodeSelector for `to_node` when set.
std::string VMIMBody(const std::string& ns, const std::string& vmi,
                     const std::string& generate_name, const std::string& to_node,
                     const std::vector<std::pair<std::string, std::string>>& labels) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("apiVersion");
  w.String("kubevirt.io/v1");
  w.Key("kind");
  w.String("VirtualMachineInstanceMigration");
  w.Key("metadata");
  w.StartObject();
  w.Key("generateName");
  w.String(generate_name.c_str());
  w.Key("namespace");
  w.String(ns.c_str());
  std::vector<std::pair<std::string, std::string>> all;
  if (api::IsLabelValue(vmi)) all.emplace_back(std::string(api::kLabelVMIName), vmi);
  all.insert(all.end(), labels.begin(), labels.end());
  if (!all.empty()) {
    w.Key("labels");
    w.StartObject();
    for (const auto& [k, v] : all) {
      w.Key(k.c_str());
      w.String(v.c_str());
    }
    w.EndObject();
  }
  w.EndObject();
  w.Key("spec");
  w.StartObject();
  w.Key("vmiName");
  w.String(vmi.c_str());
  if (!to_node.empty()) {
    w.Key("addedNodeSelector");
    w.StartObject();
    w.Key("kubernetes.io/hostname");
    w.String(to_node.c_str());
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}

std::string PrettyJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 4);
  v.Accept(w);
  return std::string(buf.GetString()) + "\n";
}

// ------------------------------------------------------------------ the app

class App {
 public:
  App(Options o, const Io& io, Interrupter& intr) : o_(std::move(o)), io_(io), intr_(intr) {}

  // Complete: the kubeconfig (kubectl's precedence, in kube::DefaultConfig)
  // and the clients the command uses. Each client's transport parses the CA,
  // the client certificate and the key again (about 1.5 ms of OpenSSL 3), so
  // a create without --wait builds only create_client_, and the other
  // commands only client_.
  base::Status Complete() {
    kube::KubeconfigOptions ko{o_.kubeconfig, o_.context, o_.namespace_};
    auto config = kube::DefaultConfig(ko);
    if (!config.ok()) return config.status();
    config->user_agent = std::string("kubectl-migrate/") + kVersion;
    if (o_.request_timeout) {
      // 0 means no limit, as in kubectl; a day stands in for "none".
      config->timeout =
          o_.request_timeout->count() == 0 ? std::chrono::hours(24) : *o_.request_timeout;
    }
    ns_ = config->namespace_;
    auto warn = [this](const std::string& w) { io_.err << "Warning: " << w << "\n"; };
    const bool creates = o_.command == Command::kMigrate || o_.command == Command::kEvacuate;
    if (!creates || o_.wait || o_.command == Command::kEvacuate) {
      auto client = kube::Client::Create(*config);
      if (!client.ok()) return client.status();
      client_ = std::move(*client);
      client_->SetWarningHandler(warn);
    }
    if (creates) {
      // The create is not retried by the transport: a 429 is either reported
      // (exit 1) or retried here, visibly, under --retry-on-limit.
      kube::RetryPolicy once;
      once.max_attempts = 1;
      auto create_client = kube::Client::Create(*config, base::RealClock(), once);
      if (!create_client.ok()) return create_client.status();
      create_client_ = std::move(*create_client);
      create_client_->SetWarningHandler(warn);
    }
    return base::Status::Ok();
  }

  int Run() {
    switch (o_.command) {
      case Command::kMigrate:
        return Migrate();
      case Command::kCancel:
        return Cancel();
      case Command::kStatus:
        return StatusCmd();
      case Command::kList:
        return List();
      case Command::kEvacuate:
        return Evacuate();
      case Command::kUncordon:
        return Uncordon();
      default:
        return kExitUsage;
    }
  }

 private:
  int Fail(const base::Status& s) {
    io_.err << FormatError(s) << "\n";
    return kExitFailed;
  }

  std::string Body() const { return VMIMBody(ns_, o_.vmi, o_.vmi + "-migration-", o_.to_node, {}); }

  // Sleeps until `until` unless interrupted first; true when interrupted.
  bool SleepInterruptibly(Clock::time_point until) {
    std::unique_lock<std::mutex> l(intr_.mu);
    return intr_.cv.wait_until(l, until, [this] { return intr_.interrupted_; });
  }

  base::StatusOr<kube::Object> CreateWithRetry(int* exit_code) {
    kube::CreateOptions co;
    co.dry_run = o_.dry_run == DryRun::kServer;
    co.field_manager = "kubectl-migrate";
    std::string body = Body();
    auto deadline = o_.timeout ? Clock::now() + *o_.timeout : Clock::time_point::max();
    seconds backoff{1};
    while (true) {
      auto created = create_client_->Create(kVMIMRef, ns_, body, co);
      if (created.ok() || !o_.retry_on_limit || !IsLimitDenial(created.status())) {
        *exit_code = created.ok() ? kExitOk : kExitFailed;
        return created;
      }
      seconds wait = created.status().retry_after_seconds() > 0
                         ? seconds(created.status().retry_after_seconds())
                         : backoff;
      backoff = std::min(backoff * 2, seconds(30));
      const auto& s = created.status();
      io_.err << "Refused" << (s.reason().empty() ? "" : " (" + s.reason() + ")") << ": "
              << s.message() << "; retrying in " << wait.count() << "s (--retry-on-limit)\n";
      io_.err.flush();
      // Only the pauses listen for Ctrl-C; during a request it ends the process.
      WaitingScope waiting(intr_);
      auto until = Clock::now() + wait;
      if (until > deadline) {
        SleepInterruptibly(deadline);
        if (intr_.interrupted()) {
          *exit_code = kExitInterrupted;
          return base::Aborted("interrupted");
        }
        *exit_code = kExitTimedOut;
        return base::DeadlineExceeded("timed out waiting for the migration to be admitted");
      }
      if (SleepInterruptibly(until)) {
        *exit_code = kExitInterrupted;
        return base::Aborted("interrupted");
      }
    }
  }

  void PrintCreated(const kube::Object& obj) {
    std::string name = obj.name.empty() ? obj.generate_name : obj.name;
    std::string suffix = o_.dry_run == DryRun::kServer   ? " (server dry run)"
                         : o_.dry_run == DryRun::kClient ? " (dry run)"
                                                         : "";
    switch (o_.output) {
      case OutputFormat::kDefault:
        io_.out << kVMIMResource << "/" << name << " created" << suffix << "\n";
        break;
      case OutputFormat::kName:
        io_.out << kVMIMResource << "/" << name << "\n";
        break;
      case OutputFormat::kJson:
        io_.out << PrettyJson(*obj.doc);
        break;
      case OutputFormat::kYaml:
        io_.out << ToYaml(*obj.doc);
        break;
    }
    io_.out.flush();
  }

  // A VMI name that looks like a mistyped subcommand ("lsit") is taken for a
  // VMI only when such a VMI exists: one GET, only for such names.
  // kExitUsage with a suggestion when it does not; kExitOk otherwise.
  int CheckNotMistypedCommand() {
    const std::string suggestion = SuggestCommand(o_.vmi);
    if (suggestion.empty()) return kExitOk;
    auto vmi = create_client_->Get(kVMIRef, ns_, o_.vmi);
    if (vmi.ok() || vmi.status().code() != base::Code::kNotFound) return kExitOk;
    io_.err << "error: unknown command " << Quoted(o_.vmi) << " for \"kubectl migrate\", and no VMI "
            << Quoted(o_.vmi) << " in namespace " << Quoted(ns_) << "\n\nDid you mean this?\n\t"
            << suggestion << "\n\nSee 'kubectl migrate --help' for usage.\n";
    return kExitUsage;
  }

  // `--to` the node the VMI already runs on would create a migration that can
  // only fail (the engine finds no other target): refused here, before the
  // create, with exit 1. Any other outcome of the GET (no VMI, no node yet, an
  // error) is left to the server, which has the last word.
  int CheckTargetIsNotSource() {
    if (o_.to_node.empty()) return kExitOk;
    auto vmi = create_client_->Get(kVMIRef, ns_, o_.vmi);
    if (!vmi.ok()) return kExitOk;
    const std::string node = Str(*vmi, "status.nodeName");
    if (node != o_.to_node) return kExitOk;
    io_.err << "error: VMI " << Quoted(o_.vmi) << " already runs on node " << Quoted(node)
            << ": --to must name another node (or leave --to out to let the scheduler choose)\n";
    return kExitFailed;
  }

  int Migrate() {
    if (o_.dry_run != DryRun::kClient) {
      if (int code = CheckNotMistypedCommand(); code != kExitOk) return code;
      if (int code = CheckTargetIsNotSource(); code != kExitOk) return code;
    }
    kube::Object created;
    if (o_.dry_run == DryRun::kClient) {
      auto obj = kube::ParseObject(Body());
      if (!obj.ok()) return Fail(obj.status());
      created = *obj;
    } else {
      int code = kExitOk;
      auto obj = CreateWithRetry(&code);
      if (!obj.ok()) {
        if (code == kExitInterrupted) {
          io_.err << "Interrupted; no migration was created.\n";
          return code;
        }
        io_.err << FormatError(obj.status()) << "\n";
        return code;
      }
      created = *obj;
    }
    PrintCreated(created);
    if (!o_.wait) return kExitOk;
    return WaitForMigration(created);
  }

  // Follows the VMIM (and its VMI) until the phase is final, --timeout passes
  // or the user interrupts.
  int WaitForMigration(const kube::Object& created) {
    WaitingScope waiting(intr_);
    struct Shared {
      kube::Object vmim;
      bool vmim_deleted = false;
      std::optional<kube::Object> vmi;
      bool changed = true;
    } sh;  // guarded by intr_.mu
    sh.vmim = created;
    ObjectWatch vmim_watch(client_.get(), kVMIMRef, ns_, created.name, created.resource_version,
                           [&](kube::WatchEvent::Type t, const kube::Object& o) {
                             std::lock_guard<std::mutex> l(intr_.mu);
                             if (t == kube::WatchEvent::Type::kDeleted) {
                               sh.vmim_deleted = true;
                             } else {
                               sh.vmim = o;
                             }
                             sh.changed = true;
                             intr_.cv.notify_all();
                           });
    ObjectWatch vmi_watch(client_.get(), kVMIRef, ns_, o_.vmi, "",
                          [&](kube::WatchEvent::Type t, const kube::Object& o) {
                            std::lock_guard<std::mutex> l(intr_.mu);
                            if (t != kube::WatchEvent::Type::kDeleted) sh.vmi = o;
                            sh.changed = true;
                            intr_.cv.notify_all();
                          });
    const auto start = Clock::now();
    const auto deadline = o_.timeout ? start + *o_.timeout : Clock::time_point::max();
    ProgressMeter meter;
    std::string last_phase = "-";
    std::string last_forecast;
    auto last_plain = start;
    bool line_drawn = false;
    auto clear_line = [&] {
      if (line_drawn) io_.err << "\r\x1b[K";
      line_drawn = false;
    };

    std::unique_lock<std::mutex> l(intr_.mu);
    while (true) {
      intr_.cv.wait_until(l, std::min(deadline, Clock::now() + kTick),
                          [&] { return sh.changed || intr_.interrupted_; });
      sh.changed = false;
      kube::Object vmim = sh.vmim;
      std::optional<kube::Object> vmi = sh.vmi;
      bool deleted = sh.vmim_deleted, interrupted = intr_.interrupted_;
      l.unlock();

      View v = ViewOf(vmim, vmi);
      meter.Update(ProgressFromJson(v.progress));
      auto now = Clock::now();
      auto elapsed = std::chrono::duration_cast<seconds>(now - start);
      std::string phase = ShownPhase(v);

      if (interrupted) {
        clear_line();
        vmim_watch.Stop();
        vmi_watch.Stop();
        return Interrupted(vmim.name);
      }
      if (auto outcome = FinalOutcome(v, deleted, vmim.name, elapsed)) {
        clear_line();
        io_.err << outcome->line << "\n";
        return outcome->exit_code;
      }
      if (now >= deadline) {
        clear_line();
        io_.err << "error: timed out after " << FormatDuration(elapsed) << " waiting for "
                << kVMIMResource << "/" << vmim.name << " (phase "
                << ShownPhase(v) << "); it goes on: to stop it, run "
                << "kubectl migrate cancel " << o_.vmi << " -n " << ns_ << "\n";
        return kExitTimedOut;
      }
      // The engine's forecast, once when it is written (and again if it changes).
      if (std::string f = ForecastLine(v); !f.empty() && f != last_forecast) {
        clear_line();
        io_.err << "forecast: " << f << "\n";
        last_forecast = f;
      }
      if (io_.err_is_terminal) {
        io_.err << "\r" << FormatProgressLine(phase, meter, elapsed, io_.terminal_width())
                << "\x1b[K";
        io_.err.flush();
        line_drawn = true;
      } else if (phase != last_phase || now - last_plain >= kPlainInterval) {
        io_.err << FormatProgressLine(phase, meter, elapsed, 0) << "\n";
        io_.err.flush();
        last_phase = phase;
        last_plain = now;
      }
      l.lock();
    }
  }

  // ---------------------------------------------------------- node maintenance

  int Uncordon() {
    auto patched = client_->Patch(kNodeRef, "", o_.node, kube::PatchType::kMerge,
                                  R"({"spec":{"unschedulable":null}})", {});
    if (!patched.ok()) return Fail(patched.status());
    io_.out << "node/" << o_.node << " uncordoned\n";
    return kExitOk;
  }

  // The body of an evacuation's migration of `e`: labelled with the node.
  std::string EvacuationBody(const Evacuee& e) const {
    std::vector<std::pair<std::string, std::string>> labels;
    if (api::IsLabelValue(o_.node)) labels.emplace_back("kubemigrate.io/evacuated-node", o_.node);
    return VMIMBody(e.ns, e.name, e.name.substr(0, 200) + "-evacuation-", "", labels);
  }

  // Cordon, then create a migration for every migratable VMI of the node as
  // the limits admit them, and follow them through informers of VMIMs and
  // VMIs (a node's VMIs are in any namespace). Decisions in plugin/evacuate.h.
  int Evacuate() {
    auto node = client_->Get(kNodeRef, "", o_.node);
    if (!node.ok()) return Fail(node.status());
    auto vmis = client_->List(kVMIRef, "");
    if (!vmis.ok()) return Fail(vmis.status());
    std::vector<Evacuee> plan = PlanEvacuation(vmis->items, o_.node);

    if (o_.dry_run != DryRun::kNone) {
      io_.out << "node/" << o_.node << " would be cordoned (dry run)\n";
      for (const Evacuee& e : plan) {
        if (e.state == Evacuee::State::kWaiting) {
          io_.out << "would migrate " << e.Key() << "\n";
        } else {
          io_.out << "cannot migrate " << e.Key() << ": " << e.reason << "\n";
        }
      }
      if (plan.empty()) io_.out << "no running VMI on node " << o_.node << "\n";
      return kExitOk;
    }

    auto cordoned = client_->Patch(kNodeRef, "", o_.node, kube::PatchType::kMerge,
                                   R"({"spec":{"unschedulable":true}})", {});
    if (!cordoned.ok()) return Fail(cordoned.status());
    io_.out << "node/" << o_.node << " cordoned\n";
    io_.out.flush();
    if (plan.empty()) {
      io_.err << "no running VMI on node " << o_.node << "\n";
      return kExitOk;
    }
    for (const Evacuee& e : plan) {
      if (e.state != Evacuee::State::kWaiting) {
        io_.err << e.Key() << ": "
                << (e.state == Evacuee::State::kNotMigratable ? "not migratable: " : "failed: ")
                << e.reason << "\n";
      }
    }

    // The migrations and VMIs of every namespace, from informers (one LIST,
    // then a watch each): a change wakes the loop at once.
    bool changed = true;  // guarded by intr_.mu
    auto wake = [this, &changed] {
      std::lock_guard<std::mutex> l(intr_.mu);
      changed = true;
      intr_.cv.notify_all();
    };
    kube::EventHandlers on_change{[wake](const kube::ObjectPtr&) { wake(); },
                                  [wake](const kube::ObjectPtr&, const kube::ObjectPtr&) { wake(); },
                                  [wake](const kube::ObjectPtr&) { wake(); }};
    kube::Informer vmim_informer(client_.get(), kVMIMRef, "");
    kube::Informer vmi_informer(client_.get(), kVMIRef, "");
    vmim_informer.AddHandler(on_change);
    vmi_informer.AddHandler(on_change);
    vmim_informer.Start();
    vmi_informer.Start();

    WaitingScope waiting(intr_);
    const auto start = Clock::now();
    const auto deadline = o_.timeout ? start + *o_.timeout : Clock::time_point::max();
    std::map<std::string, std::string> shown;      // evacuee key -> last progress bucket
    std::map<std::string, std::string> refusal;    // evacuee key -> last creation line shown
    kube::CreateOptions co;
    co.field_manager = "kubectl-migrate";
    auto finished = [&] {
      for (const Evacuee& e : plan) {
        if (e.state == Evacuee::State::kWaiting) return false;
        if (o_.wait && e.state == Evacuee::State::kMigrating) return false;
      }
      return true;
    };
    int code = kExitOk;
    while (!finished()) {
      if (vmim_informer.HasSynced() && vmi_informer.HasSynced()) {
        std::vector<kube::Object> vmims;
        std::map<std::string, const kube::Object*> by_name;
        for (const kube::ObjectPtr& m : vmim_informer.store().List()) vmims.push_back(*m);
        for (const kube::Object& m : vmims) by_name[m.Key()] = &m;
        auto unfinished = UnfinishedMigrations(vmims);
        // First what the running migrations did (a slot may have freed), then the creations.
        for (Evacuee& e : plan) {
          if (e.state != Evacuee::State::kMigrating) continue;
          kube::ObjectPtr vmi = vmi_informer.store().Get(e.Key());
          auto m = by_name.find(e.ns + "/" + e.vmim);
          std::string line = Observe(e, m == by_name.end() ? nullptr : m->second, vmi.get(),
                                     shown[e.Key()]);
          if (!line.empty()) io_.err << line << "\n";
        }
        for (Evacuee& e : plan) {
          if (e.state != Evacuee::State::kWaiting) continue;
          if (auto it = unfinished.find(e.Key()); it != unfinished.end()) {
            e.state = Evacuee::State::kMigrating;
            e.vmim = it->second->name;
            e.vmim_seen = true;
            io_.err << e.Key() << ": following its migration in progress " << e.vmim << "\n";
            continue;
          }
          auto created = create_client_->Create(kVMIMRef, e.ns, EvacuationBody(e), co);
          const bool limit = !created.ok() && IsLimitDenial(created.status());
          std::string line = OnCreate(
              e, created.ok() ? created->name : "", limit,
              limit ? created.status().message() : FormatError(created.status()));
          if (refusal[e.Key()] != line) {  // a limit refusal repeated is not shown again
            refusal[e.Key()] = line;
            io_.err << line << "\n";
          }
        }
        io_.err.flush();
      }
      if (finished()) break;
      if (Clock::now() >= deadline) {
        io_.err << "error: timed out after "
                << FormatDuration(std::chrono::duration_cast<seconds>(Clock::now() - start))
                << "; the migrations started go on\n";
        code = kExitTimedOut;
        break;
      }
      // Until something changes; a refused creation is also tried again after
      // a second, since the admission's view of the slots may lag the event.
      std::unique_lock<std::mutex> l(intr_.mu);
      intr_.cv.wait_until(l, std::min(deadline, Clock::now() + seconds(1)),
                          [&] { return changed || intr_.interrupted_; });
      changed = false;
      if (intr_.interrupted_) {
        code = kExitInterrupted;
        break;
      }
    }
    if (code == kExitInterrupted) {
      if (o_.cancel_on_interrupt) {
        for (const Evacuee& e : plan) {
          if (e.state != Evacuee::State::kMigrating) continue;
          base::Status s = client_->Delete(kVMIMRef, e.ns, e.vmim, {});
          io_.err << "Interrupted; " << (s.ok() ? "cancelled " : "could not cancel ") << e.ns
                  << "/" << e.vmim << (s.ok() ? "" : ": " + FormatError(s)) << "\n";
        }
      } else {
        io_.err << "Interrupted; the migrations started go on (node " << o_.node
                << " stays cordoned). See: kubectl migrate list -A\n";
      }
    }
    EvacuationSummary summary = Summarize(o_.node, plan, o_.wait);
    io_.err << summary.text;
    return code != kExitOk ? code : summary.exit_code;
  }

  int Interrupted(const std::string& vmim_name) {
    if (o_.cancel_on_interrupt) {
      base::Status s = client_->Delete(kVMIMRef, ns_, vmim_name);
      if (!s.ok()) {
        io_.err << "Interrupted; cancelling failed: " << FormatError(s) << "\n";
        return kExitInterrupted;
      }
      io_.err << "Interrupted; cancelled the migration: " << kVMIMResource << "/" << vmim_name
              << " deleted\n";
      return kExitInterrupted;
    }
    io_.err << "Interrupted; the migration " << kVMIMResource << "/" << vmim_name
            << " goes on. To cancel it: kubectl migrate cancel " << o_.vmi << " -n " << ns_ << "\n";
    return kExitInterrupted;
  }

  // The VMI's migrations: every VMIM of the namespace whose spec.vmiName is
  // the VMI. Not by the kubevirt.io/vmi-name label: a VMIM written by hand
  // and created with `kubectl apply` has none, yet it is the VMI's migration
  // (the webhook refuses a second one because of it).
  base::StatusOr<std::vector<kube::Object>> MigrationsOfVMI() {
    auto list = client_->List(kVMIMRef, ns_);
    if (!list.ok()) return list.status();
    std::vector<kube::Object> items;
    for (auto& o : list->items) {
      if (Str(o, "spec.vmiName") == o_.vmi) items.push_back(std::move(o));
    }
    // Newest first.
    std::sort(items.begin(), items.end(), [](const kube::Object& a, const kube::Object& b) {
      std::string ta = kube::StringField(a, "metadata.creationTimestamp").value_or("");
      std::string tb = kube::StringField(b, "metadata.creationTimestamp").value_or("");
      return ta != tb ? ta > tb : a.name > b.name;
    });
    return items;
  }

  int Cancel() {
    auto items = MigrationsOfVMI();
    if (!items.ok()) return Fail(items.status());
    std::vector<kube::Object> live;
    for (const auto& o : *items) {
      if (!IsFinished(o)) live.push_back(o);
    }
    if (live.empty()) {
      io_.err << "error: no migration in progress for VMI " << Quoted(o_.vmi) << "\n";
      return kExitFailed;
    }
    for (const auto& o : live) {
      base::Status s = client_->Delete(kVMIMRef, ns_, o.name);
      if (!s.ok() && s.code() != base::Code::kNotFound) return Fail(s);
      io_.out << kVMIMResource << "/" << o.name << " deleted\n";
    }
    io_.out.flush();
    if (!o_.wait) return kExitOk;
    return WaitForAbort(live.front());
  }

  // Follows the VMI and the deleted VMIM until the abort ends (AbortOutcome):
  // the VMI's abortStatus, or the VMIM gone. A VMIM deleted before its
  // migration started only loses its finalizer and disappears, and the VMI
  // never gets an abort status, so the VMIM's disappearance must end the wait.
  int WaitForAbort(const kube::Object& vmim) {
    WaitingScope waiting(intr_);
    std::optional<kube::Object> vmi;
    bool vmim_gone = false;
    bool changed = false;
    ObjectWatch watch(client_.get(), kVMIRef, ns_, o_.vmi, "",
                      [&](kube::WatchEvent::Type t, const kube::Object& o) {
                        std::lock_guard<std::mutex> l(intr_.mu);
                        if (t != kube::WatchEvent::Type::kDeleted) vmi = o;
                        changed = true;
                        intr_.cv.notify_all();
                      });
    // From the resourceVersion the VMIM was listed at, so that a removal
    // between the delete and the start of the watch is still seen.
    ObjectWatch vmim_watch(client_.get(), kVMIMRef, ns_, vmim.name, vmim.resource_version,
                           [&](kube::WatchEvent::Type t, const kube::Object& o) {
                             if (o.uid != vmim.uid) return;
                             std::lock_guard<std::mutex> l(intr_.mu);
                             if (t == kube::WatchEvent::Type::kDeleted) vmim_gone = true;
                             changed = true;
                             intr_.cv.notify_all();
                           });
    const auto start = Clock::now();
    const auto deadline = o_.timeout ? start + *o_.timeout : Clock::time_point::max();
    bool reread = false;
    std::unique_lock<std::mutex> l(intr_.mu);
    while (true) {
      intr_.cv.wait_until(l, deadline, [&] { return changed || intr_.interrupted_; });
      changed = false;
      if (vmim_gone && !reread) {
        // The two watches are separate streams: the VMIM's removal may come
        // before the VMI's last change. The engine writes the VMI before it
        // drops its finalizer, so one read now sees the VMI as it was left.
        reread = true;
        l.unlock();
        auto got = client_->Get(kVMIRef, ns_, o_.vmi);
        l.lock();
        if (got.ok()) {
          vmi = *got;
        } else if (got.status().code() == base::Code::kNotFound) {
          vmi.reset();
        }
      }
      if (intr_.interrupted_) {
        io_.err << "Interrupted; the abort goes on. See: kubectl migrate status " << o_.vmi
                << " -n " << ns_ << "\n";
        return kExitInterrupted;
      }
      if (auto outcome = AbortOutcome(vmi, vmim.uid, vmim_gone)) {
        io_.err << outcome->line << "\n";
        return outcome->exit_code;
      }
      if (Clock::now() >= deadline) {
        io_.err << "error: timed out waiting for the abort of the migration of VMI "
                << Quoted(o_.vmi) << "\n";
        return kExitTimedOut;
      }
    }
  }

  int StatusCmd() {
    auto items = MigrationsOfVMI();
    if (!items.ok()) return Fail(items.status());
    std::optional<kube::Object> vmi;
    auto got = client_->Get(kVMIRef, ns_, o_.vmi);
    if (got.ok()) {
      vmi = *got;
    } else if (got.status().code() != base::Code::kNotFound) {
      return Fail(got.status());
    }
    // A cancelled (deleted) or collected VMIM is gone, but the VMI keeps the
    // state of its last migration: show that rather than an older VMIM.
    std::optional<View> vmi_only = VMIOnlyView(vmi, *items);
    const kube::Object* pick = vmi_only ? nullptr : CurrentMigration(*items);
    if (pick == nullptr && !vmi_only) {
      io_.err << "error: no migration found for VMI " << Quoted(o_.vmi) << "\n";
      return kExitFailed;
    }
    View v = vmi_only ? *vmi_only : ViewOf(*pick, vmi);
    ProgressMeter meter = MeterOf(v);
    auto row = [&](const char* k, const std::string& val) {
      if (!val.empty()) io_.out << k << val << "\n";
    };
    std::string phase = ShownPhase(v);
    if (pick != nullptr) {
      row("Migration:       ", pick->name);
      row("Namespace:       ", pick->namespace_);
    } else {
      row("Migration:       ", "<deleted> (uid " +
                                   (v.state->migration_uid.empty() ? std::string("unknown")
                                                                   : v.state->migration_uid) +
                                   "; from the VMI's status.migrationState)");
      row("Namespace:       ", ns_);
    }
    row("VMI:             ", o_.vmi);
    row("Phase:           ", ShownPhase(v));
    row("Source node:     ", v.state ? v.state->source_node : "");
    row("Target node:     ", v.state ? v.state->target_node : "");
    if (pick != nullptr) row("Created:         ", Str(*pick, "metadata.creationTimestamp"));
    row("Started:         ", v.state ? v.state->start_timestamp.value_or("") : "");
    row("Ended:           ", v.state ? v.state->end_timestamp.value_or("") : "");
    if (auto d = StateDuration(v.state)) row("Duration:        ", FormatDuration(*d));
    row("Mode:            ", v.state ? v.state->mode : "");
    row("Abort requested: ", v.state && v.state->abort_requested ? "true" : "");
    row("Abort status:    ", v.state ? v.state->abort_status : "");
    row("Failure reason:  ",
        v.state && !v.state->failure_reason.empty() ? v.state->failure_reason : v.failure_message);
    row("Forecast:        ", ForecastLine(v));
    if (meter.percent() || meter.last().data_total_bytes) {
      row("Progress:        ", FormatProgressLine(phase, meter, std::nullopt, 0));
    }
    return kExitOk;
  }

  // `kubectl get -o json` of the VMIMs: a v1 List of the stored objects.
  void PrintList(const std::vector<kube::Object>& items) {
    rapidjson::Document list(rapidjson::kObjectType);
    auto& a = list.GetAllocator();
    list.AddMember("apiVersion", "v1", a);
    rapidjson::Value arr(rapidjson::kArrayType);
    for (const auto& o : items) {
      if (o.doc) arr.PushBack(rapidjson::Value(*o.doc, a), a);
    }
    list.AddMember("items", arr, a);
    list.AddMember("kind", "List", a);
    rapidjson::Value meta(rapidjson::kObjectType);
    meta.AddMember("resourceVersion", "", a);
    list.AddMember("metadata", meta, a);
    io_.out << (o_.output == OutputFormat::kYaml ? ToYaml(list) : PrettyJson(list));
  }

  int List() {
    auto list = client_->List(kVMIMRef, o_.all_namespaces ? "" : ns_);
    if (!list.ok()) return Fail(list.status());
    auto items = std::move(list->items);
    std::sort(items.begin(), items.end(), [](const kube::Object& a, const kube::Object& b) {
      return a.namespace_ != b.namespace_ ? a.namespace_ < b.namespace_ : a.name < b.name;
    });
    if (o_.output == OutputFormat::kJson || o_.output == OutputFormat::kYaml) {
      PrintList(items);
      return kExitOk;
    }
    if (o_.output == OutputFormat::kName) {
      for (const auto& o : items) io_.out << kVMIMResource << "/" << o.name << "\n";
      return kExitOk;
    }
    if (items.empty()) {
      if (o_.all_namespaces) {
        io_.err << "No resources found\n";
      } else {
        io_.err << "No resources found in " << ns_ << " namespace.\n";
      }
      return kExitOk;
    }
    // The engine keeps the live state (nodes, progress) on the VMI; one more
    // LIST joins it in rather than a GET per row.
    std::map<std::string, kube::Object> vmis;
    auto vmi_list = client_->List(kVMIRef, o_.all_namespaces ? "" : ns_);
    if (vmi_list.ok()) {
      for (auto& v : vmi_list->items) vmis.emplace(v.Key(), std::move(v));
    }
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> header;
    if (o_.all_namespaces) header.push_back("NAMESPACE");
    for (const char* h : {"NAME", "VMI", "PHASE", "SOURCE", "TARGET", "PROGRESS", "AGE"}) {
      header.push_back(h);
    }
    rows.push_back(header);
    auto now = std::chrono::system_clock::now();
    for (const auto& o : items) {
      std::optional<kube::Object> vmi;
      auto it = vmis.find(o.namespace_ + "/" + Str(o, "spec.vmiName"));
      if (it != vmis.end()) vmi = it->second;
      View v = ViewOf(o, vmi);
      ProgressMeter meter = MeterOf(v);
      std::vector<std::string> r;
      if (o_.all_namespaces) r.push_back(o.namespace_);
      r.push_back(o.name);
      r.push_back(Str(o, "spec.vmiName"));
      r.push_back(ShownPhase(v));
      r.push_back(v.state ? v.state->source_node : "");
      r.push_back(v.state ? v.state->target_node : "");
      r.push_back(meter.percent() ? std::to_string(*meter.percent()) + "%" : "");
      auto created = base::ParseRfc3339(Str(o, "metadata.creationTimestamp"));
      r.push_back(created ? FormatAge(std::chrono::duration_cast<seconds>(now - *created))
                          : "<unknown>");
      for (auto& cell : r) cell = TableCell(cell);
      rows.push_back(r);
    }
    std::vector<size_t> widths(header.size(), 0);
    for (const auto& r : rows) {
      for (size_t i = 0; i < r.size(); ++i) widths[i] = std::max(widths[i], r[i].size());
    }
    for (const auto& r : rows) {
      std::string line;
      for (size_t i = 0; i < r.size(); ++i) {
        line += r[i];
        if (i + 1 < r.size()) line += std::string(widths[i] - r[i].size() + 3, ' ');
      }
      io_.out << line << "\n";
    }
    return kExitOk;
  }

  Options o_;
  const Io& io_;
  Interrupter& intr_;
  std::string ns_;
  std::unique_ptr<kube::Client> client_;         // every request but the create; null for
                                                 // a create without --wait
  std::unique_ptr<kube::Client> create_client_;  // the create (kMigrate only)
};

}  // namespace

void Interrupter::Interrupt() {
  std::lock_guard<std::mutex> l(mu);
  interrupted_ = true;
  cv.notify_all();
}

bool Interrupter::interrupted() {
  std::lock_guard<std::mutex> l(mu);
  return interrupted_;
}

bool Interrupter::waiting() {
  std::lock_guard<std::mutex> l(mu);
  return waiting_;
}

std::string FormatError(const base::Status& s) {
  if (s.http_code() != 0) {
    if (s.reason().empty()) return "Error from server: " + s.message();
    return "Error from server (" + s.reason() + "): " + s.message();
  }
  return "error: " + s.message();
}

std::string CompletionScript(const std::string& shell) {
  if (shell == "zsh") {
    return R"(#compdef kubectl-migrate
_kubectl_migrate() {
  local -a out
  out=("${(@f)$(kubectl-migrate __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
  compadd -- "${(@)out[1,-2]}"
}
compdef _kubectl_migrate kubectl-migrate
)";
  }
  return R"(_kubectl_migrate() {
  local IFS=$'\n'
  local out
  out=$(kubectl-migrate __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
  COMPREPLY=($(printf '%s\n' "$out" | sed '$d'))
}
complete -F _kubectl_migrate kubectl-migrate
)";
}

namespace {

bool TakesValue(const std::string& flag) {
  for (const char* f : {"-n", "--namespace", "--kubeconfig", "--context", "--request-timeout",
                        "--to", "-o", "--output", "--timeout"}) {
    if (flag == f) return true;
  }
  return false;
}

// Candidates for the last word of `args`; the client (when one can be built
// from the flags given so far) supplies VMI, namespace and node names.
int Complete(const std::vector<std::string>& args, const Io& io) {
  std::vector<std::string> words = args;
  std::string cur = words.empty() ? "" : words.back();
  if (!words.empty()) words.pop_back();
  kube::KubeconfigOptions ko;
  std::vector<std::string> positional;
  std::string prev_flag;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (TakesValue(w) && i + 1 < words.size()) {
      const std::string& v = words[++i];
      if (w == "-n" || w == "--namespace") ko.namespace_override = v;
      if (w == "--kubeconfig") ko.explicit_path = v;
      if (w == "--context") ko.context = v;
    } else if (!w.empty() && w[0] != '-') {
      positional.push_back(w);
    }
  }
  if (!words.empty() && TakesValue(words.back())) prev_flag = words.back();

  std::vector<std::string> candidates;
  auto names_of = [&](const kube::ResourceRef& ref, bool namespaced) {
    auto config = kube::DefaultConfig(ko);
    if (!config.ok()) return;
    config->timeout = std::chrono::seconds(5);
    auto client = kube::Client::Create(*config);
    if (!client.ok()) return;
    auto list = (*client)->List(ref, namespaced ? config->namespace_ : "");
    if (!list.ok()) return;
    for (const auto& o : list->items) candidates.push_back(o.name);
  };
  if (prev_flag == "-o" || prev_flag == "--output") {
    candidates = {"json", "name", "yaml"};
  } else if (prev_flag == "-n" || prev_flag == "--namespace") {
    names_of(kube::ResourceRef{"", "v1", "namespaces", false}, false);
  } else if (prev_flag == "--to") {
    names_of(kube::ResourceRef{"", "v1", "nodes", false}, false);
  } else if (!prev_flag.empty()) {
    // Files, contexts and durations: nothing to offer.
  } else if (!cur.empty() && cur[0] == '-') {
    candidates = {"--to",
                  "--wait",
                  "--timeout",
                  "--cancel-on-interrupt",
                  "--retry-on-limit",
                  "--dry-run=server",
                  "--dry-run=client",
                  "--output",
                  "--all-namespaces",
                  "--kubeconfig",
                  "--context",
                  "--namespace",
                  "--request-timeout",
                  "--help"};
  } else if (positional.empty()) {
    candidates = {"cancel", "status", "list", "evacuate", "uncordon", "version", "completion"};
    names_of(kVMIRef, true);
  } else if (positional.size() == 1 && (positional[0] == "cancel" || positional[0] == "status")) {
    names_of(kVMIRef, true);
  } else if (positional.size() == 1 &&
             (positional[0] == "evacuate" || positional[0] == "uncordon")) {
    names_of(kNodeRef, false);
  } else if (positional.size() == 1 && positional[0] == "completion") {
    candidates = {"bash", "zsh"};
  }
  for (const auto& c : candidates) {
    if (c.rfind(cur, 0) == 0) io.out << c << "\n";
  }
  io.out << ":4\n";
  return kExitOk;
}

}  // namespace

int RunPlugin(const std::vector<std::string>& args, const Io& io, Interrupter& interrupter) {
  if (!args.empty() && args[0] == "__complete") {
    return Complete(std::vector<std::string>(args.begin() + 1, args.end()), io);
  }
  auto options = ParseArgs(args);
  if (!options.ok()) {
    io.err << base::PrefixLines("error: ", options.status().message())
           << "See 'kubectl migrate --help' for usage.\n";
    return kExitUsage;
  }
  if (options->command == Command::kHelp) {
    io.out << HelpText(options->help_for);
    return kExitOk;
  }
  if (options->command == Command::kCompletion) {
    io.out << CompletionScript(options->shell);
    return kExitOk;
  }
  if (options->command == Command::kVersion) {
    io.out << "kubectl-migrate " << kVersion << "\n";
    return kExitOk;
  }
  base::Status valid = Validate(*options);
  if (!valid.ok()) {
    io.err << "error: " << valid.message() << "\n"
           << "See 'kubectl migrate --help' for usage.\n";
    return kExitUsage;
  }
  App app(std::move(*options), io, interrupter);
  base::Status s = app.Complete();
  if (!s.ok()) {
    io.err << FormatError(s) << "\n";
    return kExitFailed;
  }
  return app.Run();
}

}  // namespace plugin
