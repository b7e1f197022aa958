#include "kube/tls_util.h"

#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

namespace kube {
namespace {

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free_all(bio); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

// A read-only memory BIO over `pem`; the BIO does not copy, so `pem` must
// outlive it.
BioPtr ReadBio(std::string_view pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return len > 0 ? std::string(data, static_cast<size_t>(len)) : std::string();
}

}  // namespace

void X509Deleter::operator()(X509* cert) const { X509_free(cert); }
void EvpPkeyDeleter::operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
void X509StoreDeleter::operator()(X509_STORE* store) const { X509_STORE_free(store); }

std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof(buf));
  return buf;
}

X509Ptr CertFromPem(std::string_view pem) {
  BioPtr bio = ReadBio(pem);
  if (!bio) return nullptr;
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

base::StatusOr<std::vector<X509Ptr>> CertsFromPem(std::string_view pem, const std::string& what) {
  BioPtr bio = ReadBio(pem);
  std::vector<X509Ptr> certs;
  if (bio) {
    while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) certs.emplace_back(x);
  }
  ERR_clear_error();  // the loop always ends with a "no start line" error
  if (certs.empty()) return base::InvalidArgument(what + " contains no PEM certificate");
  return certs;
}

EvpPkeyPtr KeyFromPem(std::string_view pem, const std::string& key_type) {
  if (!key_type.empty()) {
    ERR_set_mark();
    EVP_PKEY* key = nullptr;
    OSSL_DECODER_CTX* dctx = OSSL_DECODER_CTX_new_for_pkey(
        &key, "PEM", nullptr, key_type.c_str(), EVP_PKEY_KEYPAIR, nullptr, nullptr);
    if (dctx != nullptr) {
      const auto* data = reinterpret_cast<const unsigned char*>(pem.data());
      size_t len = pem.size();
      int decoded = OSSL_DECODER_from_data(dctx, &data, &len);
      OSSL_DECODER_CTX_free(dctx);
      if (decoded == 1 && key != nullptr) {
        ERR_clear_last_mark();
        return EvpPkeyPtr(key);
      }
    }
    EVP_PKEY_free(key);
    // Not that type, or a form the narrowed search does not take (a PEM block
    // before the key, say): the general decoder below decides and reports why.
    ERR_pop_to_mark();
  }
  BioPtr bio = ReadBio(pem);
  if (!bio) return nullptr;
  // Without a callback OpenSSL asks for a pass phrase on the terminal when the
  // key is encrypted; this one declines, so an encrypted key just fails.
  auto no_pass_phrase = [](char*, int, int, void*) -> int { return -1; };
  return EvpPkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_pass_phrase, nullptr));
}

bool IsEncryptedKeyPem(std::string_view pem) {
  return pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string_view::npos ||
         pem.find("Proc-Type: 4,ENCRYPTED") != std::string_view::npos;
}

std::string CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) return "";
  return BioText(bio.get());
}

std::string KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return "";
  }
  return BioText(bio.get());
}

base::StatusOr<X509StorePtr> CertStoreFromPem(std::string_view pem, const std::string& what) {
  auto certs = CertsFromPem(pem, what);
  if (!certs.ok()) return certs.status();
  X509StorePtr store(X509_STORE_new());
  if (!store) return base::Internal("cannot create a certificate store: " + OpenSslError());
  for (const X509Ptr& cert : *certs) {
    // The store takes its own reference; adding a duplicate is not an error.
    if (X509_STORE_add_cert(store.get(), cert.get()) != 1) {
      return base::Internal("cannot add " + what + " to a certificate store: " + OpenSslError());
    }
  }
  return store;
}

}  // namespace kube
