// Small OpenSSL helpers shared by the transport and by devcluster: owning
// pointers, PEM in and out of memory, a certificate store from a PEM bundle,
// and the OpenSSL error queue as text.
//
// Only OpenSSL's forward declarations are included, so this header stays
// light. Thread safety: every function is thread-safe; OpenSSL's error queue
// is per thread.
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace kube {

struct X509Deleter {
  void operator()(X509* cert) const;
};
struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* key) const;
};
struct X509StoreDeleter {
  void operator()(X509_STORE* store) const;
};
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;
using X509StorePtr = std::unique_ptr<X509_STORE, X509StoreDeleter>;

// The oldest queued OpenSSL error as text ("unknown OpenSSL error" when the
// queue is empty). Clears this thread's error queue.
std::string OpenSslError();

// The first certificate in `pem`, or null. On failure the reason stays on
// OpenSSL's error queue: the caller reads it (OpenSslError) or clears it.
X509Ptr CertFromPem(std::string_view pem);

// Every certificate in `pem`, in order. InvalidArgument "<what> contains no
// PEM certificate" when there is none. Leaves the error queue empty.
base::StatusOr<std::vector<X509Ptr>> CertsFromPem(std::string_view pem, const std::string& what);

// The private key in `pem` (PKCS#8 or traditional, unencrypted), or null; as
// with CertFromPem the reason for a failure stays on the error queue.
//
// `key_type`, when not empty, is OpenSSL's name of the expected key type
// ("EC", "RSA", ...; e.g. EVP_PKEY_get0_type_name of the matching
// certificate's public key). It only narrows OpenSSL 3's decoder search, which
// otherwise tries every key type and costs two to three times as much: a key of
// another type, or PEM the narrowed search does not take, is decoded as
// without it, so the result is the same.
// An encrypted key is never decrypted (no pass phrase is asked for): null.
EvpPkeyPtr KeyFromPem(std::string_view pem, const std::string& key_type = "");

// True when `pem` holds an encrypted private key (PKCS#8 "ENCRYPTED PRIVATE
// KEY", or a traditional key with "Proc-Type: 4,ENCRYPTED").
bool IsEncryptedKeyPem(std::string_view pem);

// PEM text of a certificate, or of a private key as unencrypted PKCS#8; ""
// when OpenSSL fails.
std::string CertToPem(X509* cert);
std::string KeyToPem(EVP_PKEY* key);

// A store trusting every certificate in `pem`. InvalidArgument as
// CertsFromPem; Internal when OpenSSL cannot build the store.
base::StatusOr<X509StorePtr> CertStoreFromPem(std::string_view pem, const std::string& what);

}  // namespace kube
