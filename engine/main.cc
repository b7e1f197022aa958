// migration-engine: the per-node daemon (design.md §4.2, §4.3).
//
// It checks its flags (every problem at once, exit 2), connects to the local
// libvirt daemon and to the API server (exit 1 on failure), keeps the node's
// Lease renewed with the advertised libvirt URI, migration address and free
// memory, runs the migration controller (migration_controller.h) on
// list+watch caches, and serves /healthz, /readyz and /metrics. SIGTERM or
// SIGINT stops it (exit 0); libvirt jobs in flight keep running and are
// adopted at the next start.
#include <httplib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/flags.h"
#include "base/log.h"
#include "base/run_main.h"
#include "base/prometheus.h"
#include "base/signals.h"
#include "engine/flags.h"
#include "engine/heartbeat.h"
#include "engine/dirty_rate_sampler.h"
#include "engine/events.h"
#include "engine/health.h"
#include "engine/libvirt_hypervisor.h"
#include "engine/migration_controller.h"
#include "engine/reconcile_loop.h"
#include "engine/resources.h"
#include "engine/slots.h"
#include "engine/node_files.h"
#include "engine/vmi_controller.h"
#include "api/json.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"

namespace {

std::optional<uint64_t> HostMemAvailable() {
  std::ifstream in("/proc/meminfo");
  std::stringstream text;
  text << in.rdbuf();
  return engine::ParseMemAvailable(text.str());
}

// One small HTTP server on its own thread (cpp-httplib; a handful of
// scrapes and probes a minute need nothing more).
class Endpoint {
 public:
  // Binds now, so that a busy port fails start-up with its reason.
  static base::StatusOr<std::unique_ptr<Endpoint>> Create(const std::string& address, int port) {
    auto e = std::unique_ptr<Endpoint>(new Endpoint());
    e->server_.set_tcp_nodelay(true);
    e->server_.set_read_timeout(5, 0);
    e->server_.set_write_timeout(5, 0);
    int bound = port == 0 ? e->server_.bind_to_any_port(address)
                          : (e->server_.bind_to_port(address, port) ? port : -1);
    if (bound < 0) {
      return base::Unavailable("cannot listen on " + address + ":" + std::to_string(port));
    }
    e->port_ = bound;
    return e;
  }
  ~Endpoint() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  httplib::Server& server() { return server_; }
  int port() const { return port_; }
  void Start() {
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }

 private:
  Endpoint() = default;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

int Run(int argc, char** argv) {
  auto flags = engine::ParseFlags(std::vector<std::string>(argv + 1, argv + argc),
                                  access("/dev/kvm", R_OK | W_OK) == 0);
  if (!flags.ok()) {
    std::cerr << base::PrefixLines("migration-engine: ", flags.status().message()) << "\n"
              << engine::Usage();
    return 2;
  }
  if (flags->help) {
    std::cout << engine::Usage();
    return 0;
  }
  base::log::Init(flags->log);
  base::BlockStopSignals();

  // Every start-up problem is reported before exiting.
  std::vector<std::string> problems;
  kube::KubeconfigOptions kopts;
  kopts.explicit_path = flags->kubeconfig;
  auto config = kube::DefaultConfig(kopts);
  std::unique_ptr<kube::Client> client;
  if (!config.ok()) {
    problems.push_back("client configuration: " + config.status().message());
  } else {
    config->user_agent = "migration-engine/" + flags->node_name;
    auto c = kube::Client::Create(*config);
    if (c.ok()) {
      client = std::move(c).value();
    } else {
      problems.push_back("client: " + c.status().message());
    }
  }
  engine::LibvirtHypervisor::Options hopts;
  hopts.uri = flags->libvirt_uri;
  auto hypervisor = engine::LibvirtHypervisor::Create(hopts);
  if (!hypervisor.ok()) {
    problems.push_back("libvirt " + flags->libvirt_uri + ": " + hypervisor.status().ToString());
  }
  auto health = Endpoint::Create(flags->bind_address, flags->healthz_port);
  if (!health.ok()) problems.push_back("/healthz: " + health.status().message());
  auto metrics = Endpoint::Create(flags->bind_address, flags->metrics_port);
  if (!metrics.ok()) problems.push_back("/metrics: " + metrics.status().message());
  if (!problems.empty()) {
    for (const std::string& p : problems) base::log::Error("cannot start", {{"problem", p}});
    return 1;
  }
  engine::LibvirtHypervisor* hv = hypervisor->get();
  base::Clock* clock = base::RealClock();
  const std::string& node = flags->node_name;

  engine::NodeHeartbeat::Options lopts;
  lopts.ns = flags->kubevirt_namespace;
  lopts.registration.node_name = node;
  lopts.registration.libvirt_uri = flags->advertise_libvirt_uri;
  lopts.registration.migration_address = flags->migration_address;
  lopts.registration.lease_duration_seconds = flags->lease_duration_seconds;
  // A third of the duration: two renewals may fail before the node looks gone.
  lopts.interval = std::chrono::milliseconds(flags->lease_duration_seconds * 1000 / 3);
  lopts.free_memory = HostMemAvailable;
  engine::NodeHeartbeat heartbeat(client.get(), clock, lopts);

  // Caches (list + watch) of what the controllers read.
  kube::Informer vmims(client.get(), engine::kVMIMs, "");
  kube::Informer vmis(client.get(), engine::kVMIs, "");
  kube::ListOptions engine_leases_only;
  engine_leases_only.label_selector = std::string(engine::kLabelEngineLease) + "=true";
  kube::Informer leases(client.get(), engine::kLeases, flags->kubevirt_namespace,
                        engine_leases_only);
  kube::Informer nodes(client.get(), engine::kNodes, "");
  kube::ListOptions kubevirt_only;
  kubevirt_only.field_selector = "metadata.name=" + flags->kubevirt_name;
  kube::Informer kubevirts(client.get(), engine::kKubeVirts, flags->kubevirt_namespace,
                           kubevirt_only);
  kube::Informer pvcs(client.get(), engine::kPVCs, "");
  kube::Informer pvs(client.get(), engine::kPVs, "");
  std::vector<kube::Informer*> informers = {&vmims, &vmis, &leases, &nodes, &kubevirts, &pvcs, &pvs};

  // Typed reads of the PVC and PV caches. A PVC is parsed into a per-thread
  // map entry, valid until that claim changes (api::PVCLookup's contract:
  // valid during the call).
  api::PVCLookup pvc_lookup = [&pvcs](std::string_view ns, std::string_view name) -> const api::PVC* {
    thread_local std::map<std::string, api::PVC> parsed;
    const std::string key = std::string(ns) + "/" + std::string(name);
    kube::ObjectPtr o = pvcs.store().Get(key);
    if (!o || !o->doc) return nullptr;
    auto pvc = api::ParsePVC(o->ToJson());
    if (!pvc.ok()) {
      base::log::Warning("cannot read PVC", {{"pvc", key}, {"error", pvc.status().message()}});
      return nullptr;
    }
    auto& slot = parsed[key];
    slot = *pvc;
    return &slot;
  };
  engine::NodeFiles::PVLookup pv_lookup = [&pvs](std::string_view name) -> std::optional<api::PV> {
    kube::ObjectPtr o = pvs.store().Get(std::string(name));
    if (!o || !o->doc) return std::nullopt;
    auto pv = api::ParsePV(o->ToJson());
    if (!pv.ok()) {
      base::log::Warning("cannot read PV", {{"pv", std::string(name)}, {"error", pv.status().message()}});
      return std::nullopt;
    }
    return *pv;
  };
  engine::NodeFilesOptions fopts;
  fopts.image_dir = flags->image_dir;
  fopts.data_dir = flags->data_dir;
  fopts.nfs_mount_dir = flags->nfs_mount_dir;
  engine::NodeFiles files(fopts, pvc_lookup, pv_lookup);

  engine::EventRecorder events(client.get(), clock, {"migration-engine", node, std::chrono::seconds(600)});
  engine::SlotManager slot_manager(client.get(), clock, {flags->kubevirt_namespace});
  engine::LeaseSlotLimiter slots(&slot_manager, node, &vmims.store(), &leases.store(), clock);

  std::unique_ptr<engine::ReconcileLoop> migration_loop;
  engine::MigrationControllerDeps mdeps;
  mdeps.api = client.get();
  mdeps.vmims = &vmims.store();
  mdeps.vmis = &vmis.store();
  mdeps.engine_leases = &leases.store();
  mdeps.nodes = &nodes.store();
  mdeps.kubevirts = &kubevirts.store();
  mdeps.hv = hv;
  mdeps.slots = &slots;
  mdeps.events = &events;
  mdeps.clock = clock;
  mdeps.volume_sources = [&files](const api::VMI& vmi) { return files.Prepare(vmi); };
  mdeps.prepare_target = [&files](const api::VMI& vmi) { return files.PrepareTarget(vmi); };
  mdeps.remove_files = [&files](const std::string& ns, const std::string& name) {
    return files.Remove(ns, name);
  };
  engine::DirtyRateSampler sampler(hv, clock, {});
  mdeps.recent_dirty_rate = [&sampler](const std::string& domain) -> std::optional<uint64_t> {
    // A sample up to two rounds old: guests' dirty rates move slowly enough.
    auto s = sampler.Latest(domain, std::chrono::seconds(90));
    if (!s) return std::nullopt;
    return s->bytes_per_second;
  };
  mdeps.set_migrating = [&sampler](const std::string& domain, bool busy) {
    sampler.SetBusy(domain, busy);
  };
  mdeps.requeue = [&migration_loop](const std::string& key, std::chrono::nanoseconds d) {
    migration_loop->queue().AddAfter(key, d);
  };
  engine::MigrationControllerSettings msettings;
  msettings.node_name = node;
  msettings.migration_address = flags->migration_address;
  msettings.kubevirt_namespace = flags->kubevirt_namespace;
  msettings.kubevirt_name = flags->kubevirt_name;
  msettings.migration_tls = flags->migration_tls;
  engine::MigrationController migrations(mdeps, msettings);
  migration_loop = std::make_unique<engine::ReconcileLoop>(
      "migration", clock, [&](const std::string& key) { return migrations.Reconcile(key); }, 4);

  engine::VMIController::Deps vdeps;
  vdeps.api = client.get();
  vdeps.vmis = &vmis.store();
  vdeps.pvcs = pvc_lookup;
  vdeps.hv = hv;
  vdeps.files = &files;
  vdeps.events = &events;
  vdeps.clock = clock;
  engine::VMIControllerSettings vsettings;
  vsettings.node_name = node;
  vsettings.domain.domain_type = flags->domain_type;
  vsettings.domain.bridge_name = flags->bridge;
  engine::VMIController vmi_controller(vdeps, vsettings);
  engine::ReconcileLoop vmi_loop(
      "vmi", clock, [&](const std::string& key) { return vmi_controller.Reconcile(key); }, 2);

  // Event handlers only enqueue (style.md §3).
  auto enqueue_all_vmims = [&] {
    for (const kube::ObjectPtr& o : vmims.store().List()) migration_loop->queue().Add(o->Key());
  };
  vmims.AddHandler(kube::EventHandlers{
      [&](const kube::ObjectPtr& o) { migration_loop->queue().Add(o->Key()); },
      [&](const kube::ObjectPtr& before, const kube::ObjectPtr& after) {
        migration_loop->queue().Add(after->Key());
        // A migration that ended frees slots and target capacity: the waiting
        // ones try again at once.
        auto was = kube::StringField(*before, "status.phase");
        auto is = kube::StringField(*after, "status.phase");
        if (was != is && (is == "Succeeded" || is == "Failed")) enqueue_all_vmims();
      },
      [&](const kube::ObjectPtr& o) {
        migration_loop->queue().Add(o->Key());
        enqueue_all_vmims();
      }});
  // A VMI's change (its node, its migration state) concerns its migrations.
  auto enqueue_vmims_of = [&](const kube::ObjectPtr& vmi) {
    for (const kube::ObjectPtr& o : vmims.store().List()) {
      if (o->namespace_ == vmi->namespace_ && kube::StringField(*o, "spec.vmiName") == vmi->name) {
        migration_loop->queue().Add(o->Key());
      }
    }
  };
  vmis.AddHandler(kube::EventHandlers{
      [&](const kube::ObjectPtr& o) {
        vmi_loop.queue().Add(o->Key());
        enqueue_vmims_of(o);
      },
      [&](const kube::ObjectPtr&, const kube::ObjectPtr& after) {
        vmi_loop.queue().Add(after->Key());
        enqueue_vmims_of(after);
      },
      [&](const kube::ObjectPtr& o) { enqueue_vmims_of(o); }});
  auto enqueue_all_vmis = [&] {
    for (const kube::ObjectPtr& o : vmis.store().List()) vmi_loop.queue().Add(o->Key());
  };
  // A claim bound late lets a waiting VMI start.
  pvcs.AddHandler(kube::EventHandlers{[&](const kube::ObjectPtr&) { enqueue_all_vmis(); },
                                      [&](const kube::ObjectPtr&, const kube::ObjectPtr&) { enqueue_all_vmis(); },
                                      nullptr});

  hv->SetEventHandler([&](const engine::DomainEvent& e) {
    if (e.kind == engine::DomainEvent::Kind::kConnectionLost) {
      base::log::Warning("libvirt connection lost; reconnecting");
    } else if (e.kind == engine::DomainEvent::Kind::kConnectionRestored) {
      base::log::Info("libvirt connection restored");
      enqueue_all_vmis();  // state may have changed meanwhile
    }
    migrations.OnDomainEvent(e);
    if (auto key = engine::VMIController::KeyForDomainEvent(e)) vmi_loop.queue().Add(*key);
    switch (engine::SamplerActionFor(e)) {
      case engine::SamplerAction::kStarted: sampler.Started(e.domain); break;
      case engine::SamplerAction::kPoke: sampler.Poke(); break;
      case engine::SamplerAction::kNone: break;
    }
  });

  auto readiness = [&] {
    engine::ReadinessInput in;
    in.libvirt_connected = hv->Connected();
    in.lease_healthy = heartbeat.Healthy();
    for (kube::Informer* i : informers) in.caches_synced = in.caches_synced && i->HasSynced();
    return engine::ReadinessProblems(in);
  };
  (*health)->server().Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  (*health)->server().Get("/readyz", [&](const httplib::Request&, httplib::Response& res) {
    std::vector<std::string> problems = readiness();
    std::string why;
    for (const std::string& p : problems) why += p + "\n";
    res.status = why.empty() ? 200 : 503;
    res.set_content(why.empty() ? "ok\n" : why, "text/plain");
  });
  (*metrics)->server().Get("/metrics", [&](const httplib::Request&, httplib::Response& res) {
    base::prom::TextWriter w;
    w.Family("migration_engine_libvirt_connected", "gauge",
             "1 while the connection to the local libvirt daemon is up.");
    w.Sample("migration_engine_libvirt_connected", {}, uint64_t{hv->Connected() ? 1u : 0u});
    w.Family("migration_engine_lease_renewals_total", "counter",
             "Successful renewals of this node's Lease.");
    w.Sample("migration_engine_lease_renewals_total", {}, heartbeat.renewals());
    w.Family("migration_engine_lease_renewal_failures_total", "counter",
             "Failed renewals of this node's Lease (each is logged).");
    w.Sample("migration_engine_lease_renewal_failures_total", {}, heartbeat.failures());
    w.Family("migration_engine_events_total", "counter",
             "Kubernetes Events written, and lost (each loss is logged).");
    w.Sample("migration_engine_events_total", {{"result", "written"}}, events.written());
    w.Sample("migration_engine_events_total", {{"result", "failed"}}, events.failed());
    migrations.WriteMetrics(w);
    res.set_content(w.Take(), "text/plain; version=0.0.4; charset=utf-8");
  });
  (*health)->Start();
  (*metrics)->Start();
  heartbeat.Start();
  sampler.Start();
  for (kube::Informer* i : informers) i->Start();
  // The controllers start once every cache has listed: deciding from a
  // partial cache would, say, fail a migration for a VMI not yet seen.
  std::atomic<bool> stopping{false};
  std::thread starter([&] {
    for (kube::Informer* i : informers) {
      while (!stopping && !i->WaitForSync(std::chrono::seconds(1))) {
      }
    }
    if (stopping) return;
    base::log::Info("caches synced; starting the controllers");
    migration_loop->Start();
    vmi_loop.Start();
    enqueue_all_vmims();
    enqueue_all_vmis();
  });
  // The ports on stdout are what scripts wait for (tests start it with port 0).
  std::cout << "migration-engine " << node << " healthz " << (*health)->port()
            << " metrics " << (*metrics)->port() << std::endl;
  base::log::Info("started", {{"node", node},
                              {"libvirt_uri", flags->libvirt_uri},
                              {"advertise_libvirt_uri", flags->advertise_libvirt_uri},
                              {"domain_type", flags->domain_type},
                              {"healthz_port", (*health)->port()},
                              {"metrics_port", (*metrics)->port()}});

  int sig = base::WaitForStopSignal();
  base::log::Info("stopping", {{"signal", base::SignalName(sig)}});
  stopping = true;
  starter.join();
  vmi_loop.Stop();
  migration_loop->Stop();
  int left = migrations.Shutdown();
  for (kube::Informer* i : informers) i->Stop();
  sampler.Stop();
  heartbeat.Stop();
  if (left > 0) {
    // Their Migrate() calls block until the jobs end; the jobs are libvirt's
    // and go on, and the next start adopts them. Exit without waiting.
    base::log::Info("leaving migrations running; they are adopted at the next start",
                    {{"migrations", left}});
    std::cout.flush();
    std::_Exit(0);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return base::RunMain("migration-engine", Run, argc, argv); }
