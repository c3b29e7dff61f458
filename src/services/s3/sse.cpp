#include "services/s3/sse.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>

#include "core/aws_error.h"

namespace vigil::s3 {

namespace {

constexpr unsigned char kSealVersion = 1;
constexpr size_t kNonce = 12, kTag = 16, kPlain = 48;
constexpr size_t kSealedSize = 1 + kNonce + kPlain + kTag;
constexpr std::string_view kAad = "vigil-s3-sse-v1";

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

void random_bytes(unsigned char* out, size_t n) {
  if (RAND_bytes(out, static_cast<int>(n)) != 1) throw internal_error("no random bytes for an encryption key");
}

}  // namespace

void DataKey::apply(uint64_t offset, char* data, size_t n) const {
  if (n == 0) return;
  // Counter block for `offset`: the IV plus offset/16, as one 128-bit big-endian number
  // (OpenSSL's CTR mode increments the whole block the same way).
  std::array<unsigned char, 16> counter = iv;
  uint64_t add = offset / 16;
  for (int i = 15; i >= 0 && add; --i) {
    uint64_t sum = counter[i] + (add & 0xff);
    counter[i] = static_cast<unsigned char>(sum);
    add = (add >> 8) + (sum >> 8);
  }
  Ctx ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_ctr(), nullptr, key.data(), counter.data()) != 1)
    throw internal_error("cannot start AES-256-CTR");
  int out_len = 0;
  if (size_t skip = offset % 16) {
    unsigned char scratch[16] = {};
    EVP_EncryptUpdate(ctx.get(), scratch, &out_len, scratch, static_cast<int>(skip));
  }
  auto* p = reinterpret_cast<unsigned char*>(data);
  while (n > 0) {
    int piece = static_cast<int>(std::min<size_t>(n, INT_MAX / 2));
    if (EVP_EncryptUpdate(ctx.get(), p, &out_len, p, piece) != 1) throw internal_error("AES-256-CTR failed");
    p += piece;
    n -= static_cast<size_t>(piece);
  }
}

MasterKey MasterKey::load_or_create(const std::string& path) {
  std::array<unsigned char, 32> key{};
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    random_bytes(key.data(), key.size());
    // O_EXCL: two processes starting on one data directory never end up with different keys.
    std::string tmp = path + ".tmp";
    int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) throw internal_error("cannot create " + tmp + ": " + std::strerror(errno));
    bool ok = ::write(out, key.data(), key.size()) == static_cast<ssize_t>(key.size()) && ::fsync(out) == 0;
    ::close(out);
    if (!ok || ::link(tmp.c_str(), path.c_str()) != 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      if (e != EEXIST) throw internal_error("cannot write " + path + ": " + std::strerror(e));
    } else {
      ::unlink(tmp.c_str());
      std::string dir = path.substr(0, path.rfind('/'));
      if (int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
      }
      return MasterKey(key);
    }
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // another process won the race
  }
  if (fd < 0) throw internal_error("cannot open " + path + ": " + std::strerror(errno));
  ssize_t n = ::read(fd, key.data(), key.size());
  ::close(fd);
  if (n != static_cast<ssize_t>(key.size())) throw internal_error(path + " is not a 32-byte key");
  return MasterKey(key);
}

DataKey MasterKey::new_data_key() {
  DataKey k;
  random_bytes(k.key.data(), k.key.size());
  random_bytes(k.iv.data(), k.iv.size());
  return k;
}

std::string MasterKey::seal(const DataKey& k) const {
  unsigned char plain[kPlain];
  std::memcpy(plain, k.key.data(), 32);
  std::memcpy(plain + 32, k.iv.data(), 16);
  std::string out(kSealedSize, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  o[0] = kSealVersion;
  random_bytes(o + 1, kNonce);
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonce, nullptr) == 1 &&
            EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), o + 1) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(kAad.data()), static_cast<int>(kAad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), o + 1 + kNonce, &len, plain, kPlain) == 1 &&
            EVP_EncryptFinal_ex(ctx.get(), o + 1 + kNonce + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, o + 1 + kNonce + kPlain) == 1;
  OPENSSL_cleanse(plain, sizeof plain);
  if (!ok) throw internal_error("cannot seal a data key");
  return out;
}

DataKey MasterKey::unseal(std::string_view sealed) const {
  if (sealed.size() != kSealedSize || static_cast<unsigned char>(sealed[0]) != kSealVersion)
    throw internal_error("unknown sealed data key format");
  const auto* s = reinterpret_cast<const unsigned char*>(sealed.data());
  unsigned char plain[kPlain];
  unsigned char tag[kTag];
  std::memcpy(tag, s + 1 + kNonce + kPlain, kTag);
  Ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonce, nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), s + 1) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(kAad.data()), static_cast<int>(kAad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), plain, &len, s + 1 + kNonce, kPlain) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag) == 1 && EVP_DecryptFinal_ex(ctx.get(), plain + len, &len) == 1;
  if (!ok) {
    OPENSSL_cleanse(plain, sizeof plain);
    throw internal_error("cannot unseal a data key (wrong master key or damaged record)");
  }
  DataKey k;
  std::memcpy(k.key.data(), plain, 32);
  std::memcpy(k.iv.data(), plain + 32, 16);
  OPENSSL_cleanse(plain, sizeof plain);
  return k;
}

std::array<unsigned char, 32> MasterKey::derive(std::string_view label) const {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()), reinterpret_cast<const unsigned char*>(label.data()), label.size(),
            out.data(), &len) ||
      len != out.size())
    throw internal_error("cannot derive from the master key");
  return out;
}

std::string MasterKey::derive_uuid(std::string_view label) const {
  auto bytes = derive(label);
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0F) | 0x40);
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3F) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id += '-';
    id += kHex[bytes[i] >> 4];
    id += kHex[bytes[i] & 0xF];
  }
  return id;
}

}  // namespace vigil::s3
