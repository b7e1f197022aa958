// The Kubernetes API's errors as base::Status: the canonical code of an HTTP
// answer, and a Status built from a `kind: Status` body.
#pragma once

#include <string>

#include "base/status.h"

namespace kube {

// The canonical code for an HTTP status and the API's `reason` (reason
// distinguishes 409 AlreadyExists from 409 Conflict).
base::Code CodeForHttp(int http_code, const std::string& reason);

// Builds a Status from an HTTP response: parses a `kind: Status` body when
// present (message, reason, details), otherwise uses the body text.
base::Status StatusFromHttp(int http_code, const std::string& body);

}  // namespace kube
