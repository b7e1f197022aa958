// The webhook's HTTP handler: routing, content checks, and for admissions
// decode (admission_review.h) -> decide (api/admission.h, from the cache) ->
// encode. No sockets: tests call Handle() directly.
//
// Endpoints:
//   POST /validate-virtualmachineinstancemigrations  VMIM CREATE and UPDATE
//   POST /validate-kubevirt                          KubeVirt CREATE and UPDATE
//   GET  /healthz   200 "ok" while the process serves
//   GET  /readyz    200 once `ready()` is true (the informers synced), else 503
//   GET  /metrics   Prometheus text (metrics.h)
// HTTP errors: 404 unknown path; 405 (with Allow) wrong method; 415 a POST
// whose Content-Type is not application/json; 400 an undecodable
// AdmissionReview (a Status body naming every problem). A review for another
// resource than the endpoint's is answered 200 with a denial (code 400,
// cause WrongResource), so the API server shows the user why. Other
// operations (DELETE, CONNECT) and subresources are allowed untouched.
//
// Thread safety: Handle() may be called concurrently.
#pragma once

#include <cstdint>
#include <functional>

#include "webhook/admission_review.h"
#include "webhook/cache.h"
#include "webhook/http.h"
#include "webhook/metrics.h"

namespace webhook {

inline constexpr char kPathValidateMigrations[] = "/validate-virtualmachineinstancemigrations";
inline constexpr char kPathValidateKubeVirt[] = "/validate-kubevirt";
inline constexpr char kCauseWrongResource[] = "WrongResource";

class Handler {
 public:
  // `cache` and `metrics` must outlive the handler. `ready` says whether the
  // caches have synced; `certificate_reloads` feeds /metrics (may be empty).
  Handler(const ClusterCache* cache, Metrics* metrics, std::function<bool()> ready,
          std::function<uint64_t()> certificate_reloads = {});

  HttpResponse Handle(const HttpRequest& request) const;

  // The decisions behind the two admission endpoints, on a decoded request.
  AdmissionResponse ReviewMigration(const AdmissionRequest& request) const;
  AdmissionResponse ReviewKubeVirt(const AdmissionRequest& request) const;

 private:
  HttpResponse Admit(const HttpRequest& request, bool migrations) const;
  HttpResponse Metrics() const;

  const ClusterCache* cache_;
  webhook::Metrics* metrics_;
  std::function<bool()> ready_;
  std::function<uint64_t()> certificate_reloads_;
};

// True when `content_type`'s media type is application/json (parameters such
// as charset are ignored, case-insensitive).
bool IsJsonContentType(std::string_view content_type);

}  // namespace webhook
