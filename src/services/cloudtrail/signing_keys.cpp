#include "services/cloudtrail/signing_keys.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cmath>
#include <memory>
#include <stdexcept>

#include "core/encoding.h"
#include "core/ids.h"
#include "protocol/json_codec.h"
#include "services/s3/object_store.h"

namespace vigil::cloudtrail {

namespace {

constexpr std::string_view kKeyPrefix = "ct:k:";

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string prefix_of(const std::string& account, const std::string& region) {
  std::string k(kKeyPrefix);
  k += account;
  k += '\0';
  k += region;
  k += '\0';
  return k;
}

// PKCS#1 RSAPublicKey DER (what the AWS CLI's validator loads).
std::string pkcs1_public_der(EVP_PKEY* pkey) {
  unsigned char* out = nullptr;
  int n = i2d_PublicKey(pkey, &out);  // for RSA keys: the PKCS#1 RSAPublicKey structure
  if (n <= 0) throw std::runtime_error("i2d_PublicKey failed");
  std::string der(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  OPENSSL_free(out);
  return der;
}

Pkey load_private(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) throw std::runtime_error("cannot load the digest signing key");
  return key;
}

std::string encode(const SigningKey& k) {
  Value v = Value::map();
  v.set("Pem", k.private_pem);
  v.set("Der", base64_encode(k.public_der));
  v.set("Fingerprint", k.fingerprint);
  v.set("Start", k.start);
  v.set("End", k.end);
  return protocol::value_to_json(v);
}

SigningKey decode(std::string_view json) {
  Value v = protocol::json_to_value(json, nullptr);
  SigningKey k;
  k.private_pem = std::string(v.str("Pem"));
  k.public_der = base64_decode(v.str("Der")).value_or(std::string());
  k.fingerprint = std::string(v.str("Fingerprint"));
  k.start = v.f64("Start", 0);
  k.end = v.f64("End", 0);
  return k;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return hex_encode(std::string_view(reinterpret_cast<char*>(md), len));
}

SigningKey SigningKeys::generate(double start, double end) {
  Pkey pkey(EVP_RSA_gen(2048));
  if (!pkey) throw std::runtime_error("RSA key generation failed");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr)) throw std::runtime_error("PEM write failed");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  SigningKey k;
  k.private_pem.assign(data, static_cast<size_t>(n));
  k.public_der = pkcs1_public_der(pkey.get());
  k.fingerprint = s3::md5_hex(k.public_der);
  k.start = start;
  k.end = end;
  return k;
}

std::vector<SigningKey> SigningKeys::all(const std::string& account, const std::string& region) const {
  std::string base = prefix_of(account, region);
  std::string end = base;
  end.back() = '\1';
  std::vector<SigningKey> out;
  auto it = store_.iterate(store::Keyspace::Meta, base, end);
  for (it->seek(base); it->valid(); it->next()) out.push_back(decode(it->value()));
  return out;
}

SigningKey SigningKeys::current(const std::string& account, const std::string& region) {
  std::lock_guard lock(mutex_);
  double now = clock_.now_seconds();
  auto keys = all(account, region);
  if (!keys.empty() && keys.back().start <= now && now < keys.back().end) return keys.back();
  // The new key starts where the old one ended (or now), so the validity ranges tile time.
  double start = keys.empty() || keys.back().end < now - kKeyLifetime ? std::floor(now) : keys.back().end;
  if (start > now) start = std::floor(now);
  while (start + kKeyLifetime <= now) start += kKeyLifetime;
  SigningKey k = generate(start, start + kKeyLifetime);
  std::string key = prefix_of(account, region);
  append_u64(key, static_cast<uint64_t>(start * 1000));
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Meta, key, encode(k));
  store_.write(batch);
  return k;
}

std::vector<SigningKey> SigningKeys::overlapping(const std::string& account, const std::string& region, double start, double end) const {
  std::vector<SigningKey> out;
  for (auto& k : all(account, region))
    if (k.start <= end && k.end >= start) out.push_back(std::move(k));
  return out;
}

std::string SigningKeys::sign(const SigningKey& key, std::string_view data) {
  Pkey pkey = load_private(key.private_pem);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    throw std::runtime_error("EVP_DigestSign failed");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1)
    throw std::runtime_error("EVP_DigestSign failed");
  sig.resize(len);
  return sig;
}

bool SigningKeys::verify(std::string_view public_der, std::string_view data, std::string_view signature) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(public_der.data());
  Pkey pkey(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(public_der.size())));
  if (!pkey) return false;
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey.get()) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

}  // namespace vigil::cloudtrail
