// libFuzzer target: the AdmissionReview decoder and everything an admission
// request reaches after it (the handler's decide and encode, the api/
// parsers), with an empty cache and with a populated one. Any input must give
// an answer, never a crash, an assertion or a sanitizer report; an allowed or
// denied answer must echo the request's uid.
#include <rapidjson/document.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "webhook/admission_review.h"
#include "webhook/cache.h"
#include "webhook/handler.h"
#include "webhook/metrics.h"

namespace {

struct World {
  webhook::ClusterCache cache{"kubevirt", "kubevirt"};
  webhook::Metrics metrics;
  webhook::Handler handler{&cache, &metrics, [] { return true; }};
  World() {
    api::VMI vmi;
    vmi.meta.name = "vm";
    vmi.meta.namespace_ = "default";
    vmi.status.phase = "Running";
    vmi.status.node_name = "n1";
    cache.PutVMI(vmi);
    api::KubeVirt kv;
    kv.meta.name = kv.meta.namespace_ = "kubevirt";
    kv.config.feature_gates = {"LiveMigration"};
    cache.PutKubeVirt(kv);
  }
};

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = new World();
  std::string body(reinterpret_cast<const char*>(data), size);
  auto decoded = webhook::DecodeAdmissionReview(body);
  if (decoded.ok()) {
    Check(!decoded->uid.empty());
    webhook::AdmissionResponse r = world->handler.ReviewMigration(*decoded);
    Check(r.uid == decoded->uid);
    std::string out = webhook::EncodeAdmissionReview(r);
    rapidjson::Document d;
    d.Parse(out.c_str(), out.size());
    Check(!d.HasParseError());
    Check(world->handler.ReviewKubeVirt(*decoded).uid == decoded->uid);
  } else {
    Check(decoded.status().http_code() == 400);
  }
  for (const char* path : {webhook::kPathValidateMigrations, webhook::kPathValidateKubeVirt}) {
    webhook::HttpResponse resp =
        world->handler.Handle(webhook::HttpRequest{"POST", path, "application/json", body});
    Check(resp.status == 200 || resp.status == 400);
  }
  return 0;
}
