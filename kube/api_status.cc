#include "kube/api_status.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace kube {

using base::Code;
using base::Status;

Code CodeForHttp(int http_code, const std::string& reason) {
  if (http_code >= 200 && http_code < 300) return Code::kOk;
  switch (http_code) {
    case 400: return Code::kInvalidArgument;
    case 401: return Code::kUnauthenticated;
    case 403: return Code::kPermissionDenied;
    case 404: return Code::kNotFound;
    case 405: case 406: case 415: return Code::kUnsupported;
    case 409: return reason == "AlreadyExists" ? Code::kAlreadyExists : Code::kAborted;
    case 410: return Code::kOutOfRange;
    case 412: return Code::kFailedPrecondition;
    case 413: return Code::kInvalidArgument;
    case 422: return Code::kInvalidArgument;
    case 429: return Code::kUnavailable;
    case 504: return Code::kDeadlineExceeded;
    default: break;
  }
  if (http_code >= 500) return Code::kUnavailable;
  if (http_code >= 400) return Code::kInvalidArgument;
  return Code::kInternal;
}

Status StatusFromHttp(int http_code, const std::string& body) {
  std::string message;
  std::string reason;
  std::string details;
  int retry_after = 0;
  rapidjson::Document doc;
  doc.Parse(body.data(), body.size());
  if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("kind") &&
      doc["kind"].IsString() && std::string(doc["kind"].GetString()) == "Status") {
    if (doc.HasMember("message") && doc["message"].IsString()) message = doc["message"].GetString();
    if (doc.HasMember("reason") && doc["reason"].IsString()) reason = doc["reason"].GetString();
    if (doc.HasMember("details") && doc["details"].IsObject()) {
      const auto& d = doc["details"];
      if (d.HasMember("retryAfterSeconds") && d["retryAfterSeconds"].IsInt()) {
        retry_after = d["retryAfterSeconds"].GetInt();
      }
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      d.Accept(w);
      details.assign(buf.GetString(), buf.GetSize());
    }
  } else {
    message = body.size() > 512 ? body.substr(0, 512) + "..." : body;
  }
  if (message.empty()) message = "HTTP " + std::to_string(http_code);
  Status s(CodeForHttp(http_code, reason), message);
  s.WithHttp(http_code, reason).WithDetails(details).WithRetryAfter(retry_after);
  return s;
}

}  // namespace kube
