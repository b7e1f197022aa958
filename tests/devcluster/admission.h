// Validating admission webhooks, called the way kube-apiserver (1.32) calls
// them: the same matching (rules, scope, matchPolicy Equivalent,
// namespaceSelector, objectSelector), the same AdmissionReview v1 request,
// the same TLS checks (caBundle; the service's DNS name), and the same Status
// errors for denials, call failures (failurePolicy) and dry runs
// (sideEffects).
//
// Not supported: matchConditions (CEL) are not evaluated (a webhook with
// them is called as if they all held); mutating webhooks.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/status.h"
#include "tests/devcluster/auth.h"
#include "tests/devcluster/json.h"

namespace devcluster {

// One request as the admission chain sees it. The pointers are borrowed for
// the duration of Validate.
struct AdmissionAttributes {
  std::string operation;  // CREATE, UPDATE, DELETE (CONNECT matches only "*" and CONNECT rules)
  std::string group, version, kind;  // of the request ("" group = core)
  std::string resource, sub_resource;  // plural resource; "status" etc. or ""
  std::string name, ns;  // ns "" for cluster-scoped objects; name "" when generated
  bool namespaced = true;
  // Other served versions of the same group/resource (matchPolicy Equivalent
  // tries them in this order when no rule matches `version`); `version`
  // itself may appear and is skipped.
  std::vector<std::string> equivalent_versions;
  const Json* object = nullptr;      // the new object; null for DELETE
  const Json* old_object = nullptr;  // the stored object for UPDATE and DELETE
  bool dry_run = false;
  const Json* options = nullptr;  // {"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1",...}
  UserInfo user;
  // Labels of the namespace `ns` (for namespaceSelector); for a Namespace
  // object the object's own labels are used instead.
  std::map<std::string, std::string> namespace_labels;
};

struct AdmissionResult {
  bool allowed = true;
  // When !allowed: the error to return, with http_code(), reason(), message()
  // and details_json() (the Status `details` object, "" when none) set as
  // kube-apiserver sets them.
  base::Status denial;
  // From every webhook called, in call order, for `Warning: 299 - "..."`
  // headers. Present whether or not the request was allowed.
  std::vector<std::string> warnings;
};

// Whether a webhook is called for a request, and with which version.
struct WebhookMatch {
  bool matched = false;
  // The version the webhook receives (kind/resource and the objects'
  // apiVersion): the request's own version, or with matchPolicy Equivalent,
  // the first equivalent version a rule names.
  std::string version;
};

// Decides as kube-apiserver's ShouldCallHook does for one entry of a
// configuration's `webhooks`. InvalidArgument for malformed rules or
// selectors (which kube-apiserver's validation would have rejected) when
// they matter to the decision.
base::StatusOr<WebhookMatch> MatchWebhook(const Json& webhook, const AdmissionAttributes& attrs);

// A metav1.LabelSelector (matchLabels, matchExpressions with In, NotIn,
// Exists, DoesNotExist) against `labels`. A null selector and {} match
// everything. InvalidArgument for a malformed selector.
base::StatusOr<bool> MatchesLabelSelector(const Json* selector,
                                          const std::map<std::string, std::string>& labels);

// Calls validating webhooks. Thread-safe: Validate may run concurrently; each
// call opens its own connections (no keep-alive between requests).
class Admission {
 public:
  using Logger = std::function<void(const std::string&)>;

  // service_endpoints: "NAMESPACE/NAME" -> "HOST:PORT" (HOST may be
  // "[v6addr]"), where clientConfig.service webhooks really listen.
  // `log` receives one line per webhook failure that failurePolicy Ignore
  // lets through; default: stderr.
  explicit Admission(std::map<std::string, std::string> service_endpoints,
                     Logger log = nullptr);

  // Runs every matching webhook of `validating_webhook_configurations`
  // (ValidatingWebhookConfiguration objects; non-objects are skipped), one
  // after the other, and returns the first error in configuration order:
  //  - denial: the webhook's status.code (403 when absent), reason (default
  //    Forbidden), message `admission webhook "NAME" denied the request: MSG`,
  //    details from the webhook or {group, kind: resource, name};
  //  - call failure (connect, TLS, timeout, non-2xx, bad JSON, uid
  //    mismatch, broken configuration entry) with failurePolicy Fail: 500
  //    InternalError `Internal error occurred: failed calling webhook "NAME":
  //    failed to call webhook: Post "URL": ...`; with Ignore: allowed, logged;
  //  - dryRun and sideEffects not None/NoneOnDryRun: 400 BadRequest
  //    `admission webhook "NAME" does not support dry run`.
  AdmissionResult Validate(const AdmissionAttributes& attrs,
                           const std::vector<const Json*>& validating_webhook_configurations) const;

 private:
  std::map<std::string, std::string> service_endpoints_;
  Logger log_;
};

}  // namespace devcluster
