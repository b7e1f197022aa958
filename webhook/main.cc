// migration-webhook: the validating admission webhook for VMIMs and the
// KubeVirt object (design.md §4.1). See flags.cc for the flags.
//
// Start-up checks the flags, the certificate pair and the client
// configuration and reports every problem at once (exit 2 for flags, 1 for
// the rest). SIGTERM or SIGINT stops the listener, lets requests in progress
// finish (at most 10 s), and exits 0.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/flags.h"
#include "base/log.h"
#include "base/run_main.h"
#include "base/signals.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/informer.h"
#include "webhook/cache.h"
#include "webhook/flags.h"
#include "webhook/handler.h"
#include "webhook/metrics.h"
#include "webhook/server.h"
#include "webhook/tls.h"

namespace {

using webhook::ClusterCache;

kube::ResourceRef KubeVirtResource(const char* resource) {
  return kube::ResourceRef{"kubevirt.io", "v1", resource, true};
}

// Wires an informer's events to a pair of cache methods.
kube::EventHandlers CacheHandlers(ClusterCache* cache,
                                  void (ClusterCache::*upsert)(const kube::Object&),
                                  void (ClusterCache::*remove)(const kube::Object&)) {
  kube::EventHandlers h;
  h.on_add = [cache, upsert](const kube::ObjectPtr& o) { (cache->*upsert)(*o); };
  h.on_update = [cache, upsert](const kube::ObjectPtr&, const kube::ObjectPtr& o) {
    (cache->*upsert)(*o);
  };
  h.on_delete = [cache, remove](const kube::ObjectPtr& o) { (cache->*remove)(*o); };
  return h;
}

int Run(int argc, char** argv) {
  auto flags = webhook::ParseFlags(std::vector<std::string>(argv + 1, argv + argc));
  if (!flags.ok()) {
    std::cerr << base::PrefixLines("migration-webhook: ", flags.status().message()) << "\n"
              << webhook::Usage();
    return 2;
  }
  if (flags->help) {
    std::cout << webhook::Usage();
    return 0;
  }
  base::log::Init(flags->log);

  // Signals are taken by one thread with sigwait; every other thread
  // (started below) inherits the blocked mask. A client that hangs up
  // mid-response must not kill the process (SIGPIPE ignored).
  base::BlockStopSignals();

  std::vector<std::string> problems;
  auto certs = webhook::CertReloader::Create(flags->tls_cert_file, flags->tls_private_key_file);
  if (!certs.ok()) problems.push_back(certs.status().message());
  kube::KubeconfigOptions kopts;
  kopts.explicit_path = flags->kubeconfig;
  auto config = kube::DefaultConfig(kopts);
  std::unique_ptr<kube::Client> client;
  if (!config.ok()) {
    problems.push_back("client configuration: " + config.status().message());
  } else {
    config->user_agent = "migration-webhook";
    auto c = kube::Client::Create(*config);
    if (c.ok()) {
      client = std::move(c).value();
    } else {
      problems.push_back("client: " + c.status().message());
    }
  }
  if (!problems.empty()) {
    for (const std::string& p : problems) base::log::Error("cannot start", {{"problem", p}});
    return 1;
  }

  ClusterCache cache(flags->kubevirt_namespace, flags->kubevirt_name);
  kube::Informer vmis(client.get(), KubeVirtResource("virtualmachineinstances"), "");
  kube::Informer vmims(client.get(), KubeVirtResource("virtualmachineinstancemigrations"), "");
  kube::ListOptions only_kubevirt;
  only_kubevirt.field_selector = "metadata.name=" + flags->kubevirt_name;
  kube::Informer kubevirts(client.get(), KubeVirtResource("kubevirts"), flags->kubevirt_namespace,
                           only_kubevirt);
  kube::Informer pvcs(client.get(), kube::ResourceRef{"", "v1", "persistentvolumeclaims", true},
                      "");
  vmis.AddHandler(CacheHandlers(&cache, &ClusterCache::OnVMI, &ClusterCache::OnVMIDeleted));
  vmims.AddHandler(CacheHandlers(&cache, &ClusterCache::OnVMIM, &ClusterCache::OnVMIMDeleted));
  kubevirts.AddHandler(
      CacheHandlers(&cache, &ClusterCache::OnKubeVirt, &ClusterCache::OnKubeVirtDeleted));
  pvcs.AddHandler(CacheHandlers(&cache, &ClusterCache::OnPVC, &ClusterCache::OnPVCDeleted));

  webhook::Metrics metrics;
  webhook::CertReloader* reloader = certs->get();
  webhook::Handler handler(
      &cache, &metrics,
      [&] { return vmis.HasSynced() && vmims.HasSynced() && kubevirts.HasSynced() && pvcs.HasSynced(); },
      [reloader] { return reloader->reload_count(); });

  webhook::ServerOptions sopts;
  sopts.bind_address = flags->bind_address;
  sopts.port = flags->port;
  sopts.client_ca_file = flags->client_ca_file;
  auto server = webhook::Server::Create(
      sopts, reloader, [&handler](const webhook::HttpRequest& r) { return handler.Handle(r); });
  if (!server.ok()) {
    base::log::Error("cannot start the server", {{"error", server.status()}});
    return 1;
  }

  vmis.Start();
  vmims.Start();
  kubevirts.Start();
  pvcs.Start();
  reloader->Start();

  webhook::Server* srv = server->get();
  // Shutdown: stop accepting, let every request in progress finish and its
  // response be written, then exit. The process exits from this thread, so
  // that a client stuck mid-request cannot hold it past the drain time; the
  // informers and caches hold nothing that must be saved.
  std::thread signal_thread([srv] {
    int sig = base::WaitForStopSignal();
    base::log::Info("stopping: draining requests in progress", {{"signal", base::SignalName(sig)}});
    srv->Stop();
    bool drained = srv->Drain(std::chrono::seconds(10));
    if (drained) {
      base::log::Info("drained, exiting");
    } else {
      base::log::Warning("requests still running after 10 s, exiting");
    }
    std::fflush(stdout);
    std::_Exit(0);
  });

  // The port on stdout is what scripts wait for (the tests start it with --port 0).
  std::cout << "migration-webhook listening on " << srv->port() << std::endl;
  base::log::Info("listening", {{"port", srv->port()}, {"bind_address", flags->bind_address}});
  base::Status served = srv->Serve();
  if (!served.ok()) {
    base::log::Error("server failed", {{"error", served}});
    std::_Exit(1);
  }
  // Serve() returned because of Stop(): the signal thread finishes the exit.
  signal_thread.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return base::RunMain("migration-webhook", Run, argc, argv); }
