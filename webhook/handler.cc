#include "webhook/handler.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <optional>
#include <utility>

#include "api/admission.h"
#include "api/json.h"
#include "webhook/http1.h"

namespace webhook {
namespace {

constexpr char kGroup[] = "kubevirt.io";

bool IsKubeVirtVersion(std::string_view v) { return v == "v1" || v == "v1alpha3"; }

HttpResponse TextResponse(int code, std::string body) {
  HttpResponse r;
  r.status = code;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

AdmissionResponse Denial(const AdmissionRequest& req, int code, std::string reason,
                         std::string cause_reason, std::string message, std::string field = "") {
  AdmissionResponse r;
  r.uid = req.uid;
  r.allowed = false;
  r.code = code;
  r.reason = std::move(reason);
  r.message = message;
  r.causes.push_back(StatusCause{std::move(cause_reason), std::move(message), std::move(field)});
  return r;
}

AdmissionResponse FromDecision(const AdmissionRequest& req, const api::AdmissionDecision& d) {
  AdmissionResponse r;
  r.uid = req.uid;
  r.allowed = d.allowed;
  r.warnings = d.warnings;
  if (d.allowed) return r;
  r.code = d.code;
  r.reason = d.status_reason;
  r.message = d.message;
  for (const api::Cause& c : d.causes)
    r.causes.push_back(StatusCause{c.reason, c.message, c.field});
  return r;
}

// Only writes of the object itself are judged: a subresource (status) write
// or a DELETE/CONNECT cannot break the rules the endpoints enforce.
bool Judged(const AdmissionRequest& req) {
  return req.sub_resource.empty() &&
         (req.operation == Operation::kCreate || req.operation == Operation::kUpdate);
}

AdmissionResponse Allow(const AdmissionRequest& req) {
  AdmissionResponse r;
  r.uid = req.uid;
  return r;
}

// A denial when the review is not about `resource`: the webhook was
// registered for the wrong rules, and the user (and operator) should see it.
std::optional<AdmissionResponse> CheckResource(const AdmissionRequest& req,
                                               std::string_view resource, std::string_view kind) {
  const auto& r = req.resource;
  const auto& k = req.kind;
  if (r.group == kGroup && r.resource == resource && IsKubeVirtVersion(r.version) &&
      k.group == kGroup && k.kind == kind) {
    return std::nullopt;
  }
  std::string got = (r.group.empty() ? "" : r.group + "/") + r.version + " " + r.resource +
                    " (kind " + k.kind + ")";
  return Denial(req, 400, "BadRequest", kCauseWrongResource,
                "this webhook endpoint validates " + std::string(kGroup) + " " +
                    std::string(resource) + " only, got " + got +
                    "; check the ValidatingWebhookConfiguration's rules",
                "request.resource");
}

}  // namespace

bool IsJsonContentType(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && std::isspace(static_cast<unsigned char>(media.back()))) {
    media.remove_suffix(1);
  }
  while (!media.empty() && std::isspace(static_cast<unsigned char>(media.front()))) {
    media.remove_prefix(1);
  }
  constexpr std::string_view kJson = "application/json";
  return media.size() == kJson.size() &&
         std::equal(media.begin(), media.end(), kJson.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

Handler::Handler(const ClusterCache* cache, webhook::Metrics* metrics, std::function<bool()> ready,
                 std::function<uint64_t()> certificate_reloads)
    : cache_(cache),
      metrics_(metrics),
      ready_(std::move(ready)),
      certificate_reloads_(std::move(certificate_reloads)) {}

HttpResponse Handler::Handle(const HttpRequest& request) const {
  HttpResponse response;
  const std::string& path = request.path;
  const bool is_get = request.method == "GET" || request.method == "HEAD";
  auto wrong_method = [&](const char* allow) {
    HttpResponse r = StatusResponse(
        405, "method " + request.method + " is not allowed on " + path + "; use " + allow);
    r.headers.emplace_back("Allow", allow);
    return r;
  };
  if (path == kPathValidateMigrations || path == kPathValidateKubeVirt) {
    response = request.method == "POST" ? Admit(request, path == kPathValidateMigrations)
                                        : wrong_method("POST");
  } else if (path == "/healthz") {
    response = is_get ? TextResponse(200, "ok") : wrong_method("GET");
  } else if (path == "/readyz") {
    if (!is_get) {
      response = wrong_method("GET");
    } else if (ready_ && ready_()) {
      response = TextResponse(200, "ok");
    } else {
      response = TextResponse(503, "caches not synced yet");
    }
  } else if (path == "/metrics") {
    response = is_get ? Metrics() : wrong_method("GET");
  } else {
    response = StatusResponse(404, "no endpoint " + path);
  }
  metrics_->RecordHttpResponse(response.status);
  return response;
}

HttpResponse Handler::Admit(const HttpRequest& request, bool migrations) const {
  const auto start = std::chrono::steady_clock::now();
  auto record = [&](std::string_view op, std::string_view result, std::string_view reason) {
    metrics_->RecordAdmission(op, result, reason, std::chrono::steady_clock::now() - start);
  };
  if (!IsJsonContentType(request.content_type)) {
    record("", "error", "UnsupportedMediaType");
    return StatusResponse(
        415, "Content-Type must be application/json, got \"" + request.content_type + "\"");
  }
  auto decoded = DecodeAdmissionReview(request.body);
  if (!decoded.ok()) {
    record("", "error", "BadRequest");
    return StatusResponse(400, decoded.status().message());
  }
  const AdmissionRequest& req = *decoded;
  AdmissionResponse out = migrations ? ReviewMigration(req) : ReviewKubeVirt(req);
  HttpResponse response;
  response.body = EncodeAdmissionReview(out);
  const char* op = OperationName(req.operation);
  if (out.allowed) {
    record(op, "allowed", "");
  } else {
    record(op, "denied", out.causes.empty() ? out.reason : out.causes.front().reason);
    for (const StatusCause& c : out.causes) metrics_->RecordDenialCause(c.reason);
  }
  return response;
}

AdmissionResponse Handler::ReviewMigration(const AdmissionRequest& req) const {
  if (auto wrong = CheckResource(req, "virtualmachineinstancemigrations",
                                 "VirtualMachineInstanceMigration")) {
    return *wrong;
  }
  if (!Judged(req)) return Allow(req);
  api::AdmissionInput in;
  in.operation = OperationName(req.operation);
  in.namespace_ = req.namespace_;
  if (req.object == nullptr) {
    in.object_error = "request.object is missing";
  } else if (auto vmim = api::ParseVMIM(*req.object); vmim.ok()) {
    in.object = std::move(vmim).value();
  } else {
    in.object_error = vmim.status().message();
  }
  if (req.operation == Operation::kUpdate) {
    if (req.old_object == nullptr) {
      in.old_object_error = "request.oldObject is missing";
    } else if (auto old = api::ParseVMIM(*req.old_object); old.ok()) {
      in.old_object = std::move(old).value();
    } else {
      in.old_object_error = old.status().message();
    }
  }
  std::string ns = req.namespace_;
  std::string vmi_name;
  if (in.object) {
    if (!in.object->meta.namespace_.empty()) ns = in.object->meta.namespace_;
    vmi_name = in.object->spec.vmi_name;
  }
  ClusterCache::Snapshot snap = cache_->SnapshotFor(ns, vmi_name);
  in.vmi = snap.vmi.get();
  in.vmi_unreadable = snap.vmi_unreadable;
  in.vmims.reserve(snap.in_flight.size());
  for (const auto& v : snap.in_flight) in.vmims.push_back(v.get());
  in.vmi_lookup = [&snap](std::string_view vns, std::string_view name) -> const api::VMI* {
    auto it = snap.vmis.find(CacheKey(vns, name));
    return it == snap.vmis.end() ? nullptr : it->second.get();
  };
  in.pvc_lookup = [&snap](std::string_view pns, std::string_view name) -> const api::PVC* {
    auto it = snap.pvcs.find(CacheKey(pns, name));
    return it == snap.pvcs.end() ? nullptr : it->second.get();
  };
  in.config = snap.config;
  in.kubevirt_found = snap.kubevirt_found;
  return FromDecision(req, api::DecideMigration(in));
}

AdmissionResponse Handler::ReviewKubeVirt(const AdmissionRequest& req) const {
  if (auto wrong = CheckResource(req, "kubevirts", "KubeVirt")) return *wrong;
  if (!Judged(req)) return Allow(req);
  if (req.object == nullptr) {
    return Denial(req, 400, "BadRequest", std::string(api::kCauseMalformedObject),
                  "request.object is missing", "request.object");
  }
  return FromDecision(req, api::ValidateKubeVirt(*req.object));
}

HttpResponse Handler::Metrics() const {
  ClusterCache::Sizes s = cache_->sizes();
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics_->Render({{"virtualmachineinstances", s.vmis},
                             {"virtualmachineinstancemigrations_in_flight", s.in_flight_vmims},
                             {"persistentvolumeclaims", s.pvcs},
                             {"kubevirts", s.kubevirts}},
                            certificate_reloads_ ? certificate_reloads_() : 0,
                            cache_->parse_errors());
  return r;
}

}  // namespace webhook
