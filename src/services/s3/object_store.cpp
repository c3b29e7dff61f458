#include "services/s3/object_store.h"

#include "services/s3/s3_errors.h"
#include "services/kms/keys.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "core/aws_error.h"
#include "core/arn.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "services/s3/record_encoding.h"

namespace vigil::s3 {

namespace {

using record::put_str;
using record::Reader;

constexpr std::string_view kBucketPrefix = "s3:b:";
constexpr std::string_view kObjectPrefix = "s3:o:";

std::string bucket_key(std::string_view name) { return std::string(kBucketPrefix) + std::string(name); }
std::string policy_key(std::string_view name) { return "s3:p:" + std::string(name); }
std::string encryption_key(std::string_view name) { return "s3:e:" + std::string(name); }
std::string object_base(std::string_view bucket) {
  std::string k(kObjectPrefix);
  k += bucket;
  k += '\0';
  return k;
}
std::string object_key(std::string_view bucket, std::string_view key) { return object_base(bucket) + std::string(key); }
// The parts of a multipart object, keyed by its file name: unique per stored version, so the
// record never changes once written, a reader that found it has the parts of the version it
// read, and it goes (in the same batch) when that version is replaced or deleted.
std::string parts_key(std::string_view file) { return "s3:mp:" + std::string(file); }
std::string object_end(std::string_view bucket) {
  std::string k(kObjectPrefix);
  k += bucket;
  k += '\1';
  return k;
}


std::string encode_bucket(const BucketRecord& b) {
  std::string out;
  put_str(out, b.owner_account);
  put_str(out, b.region);
  append_u64(out, record::bits_of(b.created));
  return out;
}
std::optional<BucketRecord> decode_bucket(std::string_view name, std::string_view bytes) {
  Reader r{bytes};
  BucketRecord b;
  b.name = std::string(name);
  b.owner_account = r.str();
  b.region = r.str();
  b.created = record::double_of(r.u64());
  if (!r.ok) return std::nullopt;
  return b;
}

void sync_directory(const std::string& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}



bool etag_matches(std::string_view header, const std::string& etag) {
  // A comma-separated list of entity tags, or "*".
  size_t start = 0;
  while (start <= header.size()) {
    size_t comma = header.find(',', start);
    std::string item = record::unquote_etag(header.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (item == "*" || item == etag) return true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return false;
}

}  // namespace

bool valid_bucket_name(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  if (name.find("..") != std::string_view::npos || name.find(".-") != std::string_view::npos ||
      name.find("-.") != std::string_view::npos)
    return false;
  if (name.rfind("xn--", 0) == 0 || name.rfind("sthree-", 0) == 0 || name.rfind("amzn-s3-demo-", 0) == 0) return false;
  auto ends = [&](std::string_view s) { return name.size() >= s.size() && name.substr(name.size() - s.size()) == s; };
  if (ends("-s3alias") || ends("--ol-s3") || ends(".mrap") || ends("--x-s3") || ends("--table-s3")) return false;
  // Not formatted as an IP address (four dot-separated numbers).
  int dots = 0;
  bool digits_only = true;
  for (char c : name) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') digits_only = false;
  }
  if (digits_only && dots == 3) return false;
  return true;
}

std::string md5_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_md5(), nullptr);
  return hex_encode(std::string_view(reinterpret_cast<const char*>(digest), len));
}

std::optional<ByteRange> parse_range(std::string_view header, uint64_t size, bool& unsatisfiable) {
  unsatisfiable = false;
  if (header.rfind("bytes=", 0) != 0) return std::nullopt;
  std::string_view spec = header.substr(6);
  if (spec.find(',') != std::string_view::npos) return std::nullopt;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto number = [](std::string_view s, uint64_t& out) {
    if (s.empty() || s.size() > 19) return false;
    out = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + static_cast<uint64_t>(c - '0');
    }
    return true;
  };
  std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
  ByteRange r;
  if (a.empty()) {  // suffix: the last N bytes
    uint64_t n;
    if (!number(b, n)) return std::nullopt;
    if (n == 0) return unsatisfiable = true, std::nullopt;
    if (size == 0) return std::nullopt;
    r.first = n >= size ? 0 : size - n;
    r.last = size - 1;
    return r;
  }
  if (!number(a, r.first)) return std::nullopt;
  if (b.empty()) {
    r.last = size ? size - 1 : 0;
  } else {
    if (!number(b, r.last)) return std::nullopt;
    if (r.last < r.first) return std::nullopt;
    if (size && r.last >= size) r.last = size - 1;
  }
  if (r.first >= size) return unsatisfiable = true, std::nullopt;
  return r;
}

Precondition evaluate_conditions(const Conditions& c, const ObjectRecord& object) {
  double modified = static_cast<double>(static_cast<int64_t>(object.last_modified));  // HTTP dates have seconds
  if (c.if_match) {
    if (!etag_matches(*c.if_match, object.etag)) return Precondition::Failed;
  } else if (c.if_unmodified_since && modified > *c.if_unmodified_since) {
    return Precondition::Failed;
  }
  if (c.if_none_match) {
    if (etag_matches(*c.if_none_match, object.etag)) return Precondition::NotModified;
  } else if (c.if_modified_since && modified <= *c.if_modified_since) {
    return Precondition::NotModified;
  }
  return Precondition::Proceed;
}

void check_write_condition(const WriteCondition& c, const ObjectRecord* current, bool committing, std::string_view key) {
  if (c.if_none_match && current) throw precondition_failed("If-None-Match");
  if (c.if_match) {
    if (!current) {
      if (committing)
        throw AwsError("ConditionalRequestConflict", "A conflicting operation occurred. If using PutObject you can retry the request. If using CompleteMultipartUpload you should initiate another upload and re-upload each part.", 409);
      throw no_such_key(key);
    }
    if (!etag_matches(*c.if_match, current->etag)) throw precondition_failed("If-Match");
  }
}

DurableFile::DurableFile(std::string dir, std::string name, const MasterKey* master) : dir_(std::move(dir)), name_(std::move(name)) {
  if (master) {
    key_ = MasterKey::new_data_key();
    sealed_ = master->seal(*key_);
  }
  tmp_path_ = dir_ + "/" + name_ + ".tmp";
  fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw internal_error("cannot create object file: " + std::string(std::strerror(errno)));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx || EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) != 1) {
    EVP_MD_CTX_free(ctx);
    ::close(fd_);
    ::unlink(tmp_path_.c_str());
    throw internal_error("cannot start MD5");
  }
  md5_ = ctx;
}

DurableFile::DurableFile(std::string dir, std::string name, int fd, std::string path, uint64_t size, std::string md5,
                         std::optional<DataKey> key, std::string sealed)
    : dir_(std::move(dir)), name_(std::move(name)), tmp_path_(std::move(path)), fd_(fd), size_(size), key_(std::move(key)),
      sealed_(std::move(sealed)) {
  if (md5.size() == 16) {
    digest_ = std::move(md5);
    return;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  md5_ = ctx;
  try {
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) != 1) throw internal_error("cannot start MD5");
    std::string buffer(static_cast<size_t>(std::min<uint64_t>(size, 1 << 20)), '\0');
    for (uint64_t done = 0; done < size;) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), size - done));
      ssize_t n = ::pread(fd_, buffer.data(), want, static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("cannot read a spooled body");
      if (n == 0) throw internal_error("spooled body truncated");
      if (key_) key_->apply(done, buffer.data(), static_cast<size_t>(n));  // the MD5 is over the plaintext
      EVP_DigestUpdate(ctx, buffer.data(), static_cast<size_t>(n));
      done += static_cast<uint64_t>(n);
    }
    md5_binary();
  } catch (...) {
    // A constructor that throws runs no destructor: release what this one would.
    ::close(fd_);
    ::unlink(tmp_path_.c_str());
    EVP_MD_CTX_free(ctx);
    throw;
  }
}

DurableFile::~DurableFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(tmp_path_.c_str());
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(md5_));
}

void DurableFile::fail(const std::string& what) {
  int e = errno;
  throw internal_error(what + ": " + std::string(std::strerror(e)));
}

void DurableFile::append(std::string_view data) {
  if (fd_ < 0) throw internal_error("object file already committed");
  if (!digest_.empty()) throw internal_error("object file already digested");
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(md5_), data.data(), data.size());
  if (checksum_) checksum_->update(data);
  auto write_all = [&](const char* p, size_t len) {
    size_t done = 0;
    while (done < len) {
      ssize_t n = ::write(fd_, p + done, len - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("cannot write object file");
      }
      done += static_cast<size_t>(n);
    }
  };
  if (!key_) {
    write_all(data.data(), data.size());
    size_ += data.size();
    return;
  }
  // Encrypted through a 64 KiB scratch buffer: the caller's slice is const and may be large.
  constexpr size_t kScratch = 64 * 1024;
  if (scratch_.size() < std::min(kScratch, data.size())) scratch_.resize(std::min(kScratch, data.size()));
  for (size_t at = 0; at < data.size();) {
    size_t n = std::min(scratch_.size(), data.size() - at);
    std::memcpy(scratch_.data(), data.data() + at, n);
    key_->apply(size_, scratch_.data(), n);
    write_all(scratch_.data(), n);
    size_ += n;
    at += n;
  }
}

void DurableFile::append_file(const std::string& path, uint64_t offset, uint64_t length, const DataKey* source_key) {
  int in = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) fail("cannot open source file");
  // 1 MiB at a time: bounded memory whatever the object size.
  std::string buffer(std::min<uint64_t>(length, 1 << 20), '\0');
  uint64_t done = 0;
  try {
    while (done < length) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buffer.size(), length - done));
      ssize_t n = ::pread(in, buffer.data(), want, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail("cannot read source file");
      if (n == 0) throw internal_error("source file truncated");
      // Source decrypted with its key, re-encrypted by append() with this file's.
      if (source_key) source_key->apply(offset + done, buffer.data(), static_cast<size_t>(n));
      append(std::string_view(buffer.data(), static_cast<size_t>(n)));
      done += static_cast<uint64_t>(n);
    }
  } catch (...) {
    ::close(in);
    throw;
  }
  ::close(in);
}

void DurableFile::commit() {
  if (fd_ < 0) throw internal_error("object file already committed");
  int fd = fd_;
  fd_ = -1;
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail("cannot sync object file");
  }
  if (::close(fd) != 0) fail("cannot close object file");
  if (::rename(tmp_path_.c_str(), (dir_ + "/" + name_).c_str()) != 0) fail("cannot rename object file");
  committed_ = true;
  // The rename itself must survive a crash before the record that points at it is committed.
  sync_directory(dir_);
}

std::string DurableFile::md5_binary() {
  if (digest_.empty()) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(md5_), digest, &len);
    digest_.assign(reinterpret_cast<const char*>(digest), len);
  }
  return digest_;
}

std::string DurableFile::md5_hex() { return hex_encode(md5_binary()); }

namespace {
MasterKey master_key_in(const std::string& dir) {
  std::filesystem::create_directories(dir);
  return MasterKey::load_or_create(dir + "/" + ObjectStore::kMasterKeyFile);
}
}  // namespace

ObjectStore::ObjectStore(store::Store& store, std::string object_dir)
    : store_(store), dir_(std::move(object_dir)), master_(master_key_in(dir_)) {
  std::error_code ec;
  std::filesystem::remove_all(spool_dir(), ec);  // bodies of requests a crash interrupted
  std::filesystem::create_directories(spool_dir());
}

std::optional<BucketRecord> ObjectStore::bucket(std::string_view name) const {
  auto bytes = store_.get(store::Keyspace::Meta, bucket_key(name));
  if (!bytes) return std::nullopt;
  return decode_bucket(name, *bytes);
}

std::optional<BucketRecord> ObjectStore::create_bucket(const BucketRecord& bucket) {
  std::lock_guard lock(write_mutex_);
  if (auto existing = this->bucket(bucket.name)) return existing;
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Meta, bucket_key(bucket.name), encode_bucket(bucket));
  store_.write(batch);
  return std::nullopt;
}

bool ObjectStore::bucket_empty(std::string_view name) const {
  std::string lower = object_base(name), upper = object_end(name);
  auto it = store_.iterate(store::Keyspace::Meta, lower, upper);
  it->seek(lower);
  return !it->valid();
}

bool ObjectStore::delete_bucket_if_empty(std::string_view name) {
  std::lock_guard lock(write_mutex_);
  if (!bucket_empty(name)) return false;
  store::WriteBatch batch(store_);
  batch.erase(store::Keyspace::Meta, bucket_key(name));
  batch.erase(store::Keyspace::Meta, policy_key(name));  // a bucket created later under this name starts without one
  batch.erase(store::Keyspace::Meta, encryption_key(name));
  std::vector<std::string> files;
  for (const auto& [owner, cleanup] : bucket_cleanups_) cleanup(name, batch, files);
  store_.write(batch);
  for (const auto& f : files) ::unlink(path_of(f).c_str());
  return true;
}

std::optional<std::string> ObjectStore::bucket_policy(std::string_view bucket) const {
  return store_.get(store::Keyspace::Meta, policy_key(bucket));
}

// A bucket's own settings (policy, default encryption): one record each, written under the
// write lock so a setting never outlives a bucket deleted meanwhile.
void ObjectStore::put_bucket_setting(std::string_view bucket, const std::string& key, std::string_view value) {
  std::lock_guard lock(write_mutex_);
  if (!this->bucket(bucket)) throw no_such_bucket(bucket);
  store::WriteBatch batch(store_);
  batch.put(store::Keyspace::Meta, key, value);
  store_.write(batch);
}

void ObjectStore::delete_bucket_setting(const std::string& key) {
  std::lock_guard lock(write_mutex_);
  store::WriteBatch batch(store_);
  batch.erase(store::Keyspace::Meta, key);
  store_.write(batch);
}

void ObjectStore::put_bucket_policy(std::string_view bucket, std::string_view policy) { put_bucket_setting(bucket, policy_key(bucket), policy); }

void ObjectStore::delete_bucket_policy(std::string_view bucket) { delete_bucket_setting(policy_key(bucket)); }

std::optional<BucketEncryption> ObjectStore::bucket_encryption(std::string_view bucket) const {
  auto bytes = store_.get(store::Keyspace::Meta, encryption_key(bucket));
  if (!bytes) return std::nullopt;
  Reader r{*bytes};
  BucketEncryption e;
  e.algorithm = r.str();
  e.bucket_key = r.u64() != 0;
  if (r.ok && r.pos < r.in.size()) e.kms_key_id = r.str();  // trailing: absent in records from before SSE-KMS
  if (!r.ok) return std::nullopt;
  return e;
}

void ObjectStore::put_bucket_encryption(std::string_view bucket, const BucketEncryption& encryption) {
  std::string value;
  put_str(value, encryption.algorithm);
  append_u64(value, encryption.bucket_key ? 1 : 0);
  put_str(value, encryption.kms_key_id);
  put_bucket_setting(bucket, encryption_key(bucket), value);
}

std::string ObjectStore::aws_managed_kms_key(std::string_view account, std::string_view region) const {
  std::string label = "kms-key aws/s3";
  label.append(1, '\0').append(account).append(1, '\0').append(region);
  const std::string id = master_.derive_uuid(label);
  return "arn:aws:kms:" + std::string(region) + ":" + std::string(account) + ":key/" + id;
}

ObjectEncryption ObjectStore::resolve_encryption(const BucketRecord& bucket, const EncryptionRequest& request) const {
  BucketEncryption defaults = bucket_encryption(bucket.name).value_or(BucketEncryption{});
  const bool requested = !request.algorithm.empty();
  ObjectEncryption e;
  e.algorithm = requested ? request.algorithm : defaults.algorithm;
  if (e.algorithm != "aws:kms") return e;  // AES256: S3 reports neither a key nor a bucket key
  e.kms_key_arn = usable_kms_key(requested ? request.kms_key_id : defaults.kms_key_id, bucket.owner_account, bucket.region);
  e.context = request.context;
  e.bucket_key = request.bucket_key.value_or(defaults.bucket_key);
  return e;
}

std::string ObjectStore::usable_kms_key(std::string_view id, std::string_view account, std::string_view region) const {
  const std::string acct(account), reg(region);
  if (!kms_) return resolve_kms_key(id, account, region, aws_managed_kms_key(account, region));
  auto arn = id.empty() ? std::optional<std::string>(kms_->managed_key(acct, reg, "s3")) : kms_->find_key(acct, reg, id);
  if (!arn) return resolve_kms_key(id, account, region, "");  // throws S3's KMS.NotFoundException for the id
  check_kms_usable(*arn);
  return *arn;
}

void ObjectStore::check_kms_usable(const std::string& key_arn) const {
  if (!kms_) return;
  auto state = kms_->key_state(key_arn);
  if (!state) {
    auto arn = split_arn(key_arn);
    if (arn && key_arn == aws_managed_kms_key(arn->account, arn->region))
      state = kms_->key_state(kms_->managed_key(std::string(arn->account), std::string(arn->region), "s3"));
  }
  if (!state) throw AwsError("KMS.NotFoundException", "Key '" + key_arn + "' does not exist", 400);
  if (*state == "Disabled") throw AwsError("KMS.DisabledException", key_arn + " is disabled.", 400);
  if (*state == "PendingDeletion") throw AwsError("KMS.KMSInvalidStateException", key_arn + " is pending deletion.", 400);
}

namespace {
constexpr char kKmsWrapped = '\x02';
// The encryption context of a wrapped object data key: its purpose and the object file it
// opens, so a wrapped key copied to another object's record does not unwrap there.
Value object_key_context(std::string_view file) {
  Value c = Value::map();
  c.set("vigil:purpose", "s3-object-data-key");
  c.set("vigil:file", std::string(file));
  return c;
}
// KMS's own errors (a key disabled or deleted since the request checked it) as S3 answers
// them: KMS.DisabledException, KMS.NotFoundException...
template <typename F>
auto as_s3_kms_error(F&& f) {
  try {
    return f();
  } catch (const AwsError& e) {
    if (e.code().rfind("KMS.", 0) == 0) throw;
    throw AwsError("KMS." + e.code(), e.message(), 400);
  }
}
}  // namespace

bool ObjectStore::needs_kms_wrap(const ObjectRecord& record) const {
  return kms_ && record.encryption.algorithm == "aws:kms" && !record.encryption.kms_key_arn.empty() && !record.sse.empty() &&
         record.sse[0] != kKmsWrapped;
}

std::string ObjectStore::wrap_for_kms(const std::string& sealed, const std::string& key_arn, std::string_view file) const {
  const DataKey key = master_.unseal(sealed);
  std::string plain(reinterpret_cast<const char*>(key.key.data()), key.key.size());
  plain.append(reinterpret_cast<const char*>(key.iv.data()), key.iv.size());
  if (key_arn.size() > 255) throw internal_error("KMS key ARN too long");
  std::string out(1, kKmsWrapped);
  out += static_cast<char>(key_arn.size());
  out += key_arn;
  check_kms_usable(key_arn);
  out += as_s3_kms_error([&] { return kms_->wrap_data_key(key_arn, plain, object_key_context(file)); });
  OPENSSL_cleanse(plain.data(), plain.size());
  return out;
}

std::optional<DataKey> ObjectStore::data_key(const std::string& sealed, std::string_view file) const {
  if (sealed.empty()) return std::nullopt;
  if (sealed[0] != kKmsWrapped) return master_.unseal(sealed);
  const size_t arn_size = sealed.size() > 1 ? static_cast<unsigned char>(sealed[1]) : 0;
  if (!kms_ || sealed.size() < 2 + arn_size) throw internal_error("an SSE-KMS data key that cannot be unwrapped here");
  const std::string key_arn = sealed.substr(2, arn_size);
  check_kms_usable(key_arn);
  auto plain = as_s3_kms_error(
      [&] { return kms_->unwrap_data_key(key_arn, std::string_view(sealed).substr(2 + arn_size), object_key_context(file)); });
  DataKey key;
  if (!plain || plain->size() != key.key.size() + key.iv.size()) throw internal_error("an SSE-KMS data key that does not unwrap");
  std::copy(plain->begin(), plain->begin() + key.key.size(), key.key.begin());
  std::copy(plain->begin() + key.key.size(), plain->end(), key.iv.begin());
  OPENSSL_cleanse(plain->data(), plain->size());
  return key;
}

void ObjectStore::check_kms_key(const ObjectEncryption& encryption) const {
  if (encryption.algorithm == "aws:kms" && !encryption.kms_key_arn.empty()) check_kms_usable(encryption.kms_key_arn);
}

std::string resolve_kms_key(std::string_view id, std::string_view account, std::string_view region, const std::string& managed_arn) {
  if (id.empty() && !managed_arn.empty()) return managed_arn;
  const std::string_view managed_id = std::string_view(managed_arn).substr(managed_arn.rfind('/') + 1);
  const std::string arn_prefix = "arn:aws:kms:" + std::string(region) + ":" + std::string(account) + ":";
  if (!managed_arn.empty() && (id == managed_id || id == managed_arn || id == "alias/aws/s3" || id == arn_prefix + "alias/aws/s3")) return managed_arn;
  auto not_found = [](const std::string& message) { return AwsError("KMS.NotFoundException", message, 400); };
  if (id.substr(0, 4) == "arn:") {
    auto arn = split_arn(id);
    if (arn && arn->service == "kms" && arn->region != region) throw not_found("Invalid arn " + std::string(arn->region));
    if (arn && arn->resource.substr(0, 4) == "key/") throw not_found("Key '" + std::string(id) + "' does not exist");
    throw not_found("Invalid keyId " + std::string(id));
  }
  if (id.substr(0, 6) != "alias/" && id.find('/') == std::string_view::npos && id.find(':') == std::string_view::npos)
    throw not_found("Key '" + arn_prefix + "key/" + std::string(id) + "' does not exist");
  throw not_found("Invalid keyId " + std::string(id));
}

void ObjectStore::delete_bucket_encryption(std::string_view bucket) { delete_bucket_setting(encryption_key(bucket)); }

std::vector<BucketRecord> ObjectStore::buckets_of(std::string_view account) const {
  std::vector<BucketRecord> out;
  std::string lower(kBucketPrefix), upper = record::prefix_successor(std::string(kBucketPrefix));
  auto it = store_.iterate(store::Keyspace::Meta, lower, upper);
  for (it->seek(lower); it->valid(); it->next()) {
    auto b = decode_bucket(it->key().substr(kBucketPrefix.size()), it->value());
    if (b && b->owner_account == account) out.push_back(std::move(*b));
  }
  return out;
}

std::string ObjectStore::encode(const ObjectRecord& r) {
  std::string out;
  append_u64(out, r.size);
  put_str(out, r.etag);
  put_str(out, r.content_type);
  append_u64(out, record::bits_of(r.last_modified));
  put_str(out, r.file);
  append_u64(out, r.metadata.size());
  for (const auto& [k, v] : r.metadata) put_str(out, k), put_str(out, v);
  append_u64(out, r.headers.size());
  for (const auto& [k, v] : r.headers) put_str(out, k), put_str(out, v);
  // Trailing and optional: a record written before encryption at rest simply ends here, one
  // written before checksums after the data key (an empty key when a checksum follows it), one
  // written before part records after the checksum (empty fields when a part count follows).
  // One written before SSE-KMS ends after the part count (a zero count when encryption follows).
  const bool encryption = !r.encryption.algorithm.empty();
  const bool parts = r.parts_count > 0 || encryption;
  if (!r.sse.empty() || !r.checksum.empty() || parts) put_str(out, r.sse);
  if (!r.checksum.empty() || parts) {
    put_str(out, r.checksum.algorithm);
    put_str(out, r.checksum.value);
    put_str(out, r.checksum.type);
  }
  if (parts) append_u64(out, r.parts_count);
  if (encryption) {
    put_str(out, r.encryption.algorithm);
    put_str(out, r.encryption.kms_key_arn);
    put_str(out, r.encryption.context);
    append_u64(out, r.encryption.bucket_key ? 1 : 0);
  }
  return out;
}

std::optional<ObjectRecord> ObjectStore::decode_object(std::string_view key, std::string_view bytes) {
  Reader r{bytes};
  ObjectRecord o;
  o.key = std::string(key);
  o.size = r.u64();
  o.etag = r.str();
  o.content_type = r.str();
  o.last_modified = record::double_of(r.u64());
  o.file = r.str();
  uint64_t n = r.u64();
  for (uint64_t i = 0; r.ok && i < n; ++i) {
    std::string k = r.str();
    o.metadata.emplace_back(std::move(k), r.str());
  }
  n = r.u64();
  for (uint64_t i = 0; r.ok && i < n; ++i) {
    std::string k = r.str();
    o.headers.emplace_back(std::move(k), r.str());
  }
  if (r.ok && r.pos < r.in.size()) o.sse = r.str();
  if (r.ok && r.pos < r.in.size()) {
    o.checksum.algorithm = r.str();
    o.checksum.value = r.str();
    o.checksum.type = r.str();
  }
  if (r.ok && r.pos < r.in.size()) o.parts_count = r.u64();
  if (r.ok && r.pos < r.in.size()) {
    o.encryption.algorithm = r.str();
    o.encryption.kms_key_arn = r.str();
    o.encryption.context = r.str();
    o.encryption.bucket_key = r.u64() != 0;
  }
  if (!r.ok) return std::nullopt;
  return o;
}

std::string ObjectStore::encode_parts(const std::vector<ObjectPart>& parts) {
  std::string out;
  append_u64(out, parts.size());
  for (const auto& p : parts) {
    append_u64(out, static_cast<uint64_t>(p.number));
    append_u64(out, p.size);
    put_str(out, p.checksum);
  }
  return out;
}

std::optional<std::vector<ObjectPart>> ObjectStore::decode_parts(std::string_view bytes) {
  Reader r{bytes};
  uint64_t n = r.u64();
  if (!r.ok || n > bytes.size() / 24) return std::nullopt;  // 24: the fixed bytes of one entry
  std::vector<ObjectPart> parts(static_cast<size_t>(n));
  for (auto& p : parts) {
    p.number = static_cast<int>(r.u64());
    p.size = r.u64();
    p.checksum = r.str();
  }
  if (!r.ok) return std::nullopt;
  return parts;
}

std::optional<std::vector<ObjectPart>> ObjectStore::parts(const ObjectRecord& object) const {
  if (object.parts_count == 0) return std::vector<ObjectPart>{};
  auto bytes = store_.get(store::Keyspace::Meta, parts_key(object.file));
  if (!bytes) return std::nullopt;
  auto parts = decode_parts(*bytes);
  if (!parts) throw internal_error("damaged part record");
  return parts;
}

std::optional<ObjectRecord> ObjectStore::head(std::string_view bucket, std::string_view key) const {
  auto bytes = store_.get(store::Keyspace::Meta, object_key(bucket, key));
  if (!bytes) return std::nullopt;
  return decode_object(key, *bytes);
}

std::string ObjectStore::read(const ObjectRecord& object, uint64_t offset, uint64_t length) const {
  std::string out;
  if (length == 0) return out;
  int fd = ::open(path_of(object.file).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw internal_error("object file missing");
  out.resize(length);
  size_t done = 0;
  while (done < length) {
    ssize_t n = ::pread(fd, out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  if (done != length) throw internal_error("object file truncated");
  if (auto key = data_key(object.sse, object.file)) key->apply(offset, out.data(), out.size());
  return out;
}

std::optional<int> ObjectStore::open(const ObjectRecord& object) const {
  int fd = ::open(path_of(object.file).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) return fd;
  if (errno == ENOENT) return std::nullopt;
  throw internal_error("cannot open object file");
}

std::string ObjectStore::new_file_name() { return new_uuid(); }

ObjectRecord ObjectStore::put(std::string_view bucket, std::string_view key, std::string_view body, ObjectRecord meta, double now,
                              const WriteCondition& condition) {
  DurableFile file = new_file();
  file.append(body);
  return commit_file(bucket, key, file, std::move(meta), now, condition);
}

ObjectRecord ObjectStore::copy(std::string_view bucket, std::string_view key, const ObjectRecord& source, ObjectRecord meta, double now,
                               ChecksumAlgorithm checksum, const WriteCondition& condition) {
  DurableFile file = new_file();
  if (checksum != ChecksumAlgorithm::None) file.set_checksum(checksum);
  append_object(file, source, 0, source.size);
  meta.checksum = {};
  if (checksum != ChecksumAlgorithm::None)
    meta.checksum = StoredChecksum{std::string(checksum_name(checksum)), base64_encode(file.checksum_digest()), std::string(kFullObject)};
  return commit_file(bucket, key, file, std::move(meta), now, condition);
}

ObjectRecord ObjectStore::commit_file(std::string_view bucket, std::string_view key, DurableFile& file, ObjectRecord meta, double now,
                                      const WriteCondition& condition) {
  meta.key = std::string(key);
  meta.size = file.size();
  meta.etag = file.md5_hex();
  meta.last_modified = now;
  meta.file = file.name();
  meta.sse = file.sealed_key();
  file.commit();
  return commit_object(bucket, std::move(meta), nullptr, {}, {}, condition);
}

ObjectRecord ObjectStore::commit_object(std::string_view bucket, ObjectRecord record, const std::function<void(store::WriteBatch&)>& prepare,
                                        const std::vector<std::string>& stale_files, const std::vector<ObjectPart>& parts,
                                        const WriteCondition& condition) {
  std::optional<ObjectRecord> previous;
  record.parts_count = parts.size();
  try {
    // Outside the write lock when the encryption is known: KMS may sync a write (a rotation
    // that is due) and every S3 write would wait for it.
    if (needs_kms_wrap(record)) record.sse = wrap_for_kms(record.sse, record.encryption.kms_key_arn, record.file);
    std::lock_guard lock(write_mutex_);
    auto bucket_record = this->bucket(bucket);
    if (!bucket_record) throw no_such_bucket(bucket);
    // A write that chose no encryption (CloudTrail's and Lake's deliveries, say) gets the
    // bucket's default, as in S3.
    if (record.encryption.algorithm.empty()) record.encryption = resolve_encryption(*bucket_record, {});
    if (needs_kms_wrap(record)) record.sse = wrap_for_kms(record.sse, record.encryption.kms_key_arn, record.file);
    previous = head(bucket, record.key);
    // Under the lock that serialises every write of the key: nothing can change it between
    // this check and the batch below.
    if (!condition.empty()) check_write_condition(condition, previous ? &*previous : nullptr, true, record.key);
    store::WriteBatch batch(store_);
    if (prepare) prepare(batch);
    if (previous && previous->parts_count > 0 && previous->file != record.file) batch.erase(store::Keyspace::Meta, parts_key(previous->file));
    if (!parts.empty()) batch.put(store::Keyspace::Meta, parts_key(record.file), encode_parts(parts));
    batch.put(store::Keyspace::Meta, object_key(bucket, record.key), encode(record));
    store_.write(batch);
  } catch (...) {
    ::unlink(path_of(record.file).c_str());
    throw;
  }
  // The replaced version's bytes are unreachable now (a crash before this leaves an orphan
  // file, never a record without its file).
  if (previous && previous->file != record.file) ::unlink(path_of(previous->file).c_str());
  for (const auto& f : stale_files) ::unlink(path_of(f).c_str());
  return record;
}

void ObjectStore::on_bucket_delete(const void* owner, BucketCleanup cleanup) {
  std::lock_guard lock(write_mutex_);
  bucket_cleanups_.emplace_back(owner, std::move(cleanup));
}

void ObjectStore::remove_bucket_cleanup(const void* owner) {
  std::lock_guard lock(write_mutex_);
  std::erase_if(bucket_cleanups_, [owner](const auto& entry) { return entry.first == owner; });
}

void ObjectStore::append_object(DurableFile& file, const ObjectRecord& source, uint64_t offset, uint64_t length) const {
  try {
    auto key = data_key(source.sse, source.file);
    file.append_file(path_of(source.file), offset, length, key ? &*key : nullptr);
  } catch (const AwsError&) {
    // Overwritten or deleted since the caller looked it up: its file went with it.
    if (source.file.empty() || ::access(path_of(source.file).c_str(), F_OK) != 0)
      throw no_such_key(source.key);
    throw;
  }
}

void ObjectStore::locked(const std::function<void()>& fn) {
  std::lock_guard lock(write_mutex_);
  fn();
}

bool ObjectStore::remove(std::string_view bucket, std::string_view key) {
  std::lock_guard lock(write_mutex_);
  auto previous = head(bucket, key);
  if (!previous) return false;
  store::WriteBatch batch(store_);
  batch.erase(store::Keyspace::Meta, object_key(bucket, key));
  if (previous->parts_count > 0) batch.erase(store::Keyspace::Meta, parts_key(previous->file));
  store_.write(batch);
  ::unlink(path_of(previous->file).c_str());
  return true;
}

ListResult ObjectStore::list(std::string_view bucket, const ListQuery& q) const {
  ListResult result;
  std::string base = object_base(bucket);
  std::string lower = base + q.prefix;
  std::string upper = q.prefix.empty() ? object_end(bucket) : base + record::prefix_successor(q.prefix);
  if (upper.size() <= base.size()) upper = object_end(bucket);  // prefix of all 0xff bytes
  auto it = store_.iterate(store::Keyspace::Meta, lower, upper);
  std::string start = lower;
  if (!q.after.empty() && base + q.after >= start) {
    start = base + q.after;
    start += '\0';  // strictly after
  }
  if (q.max_keys <= 0) {
    it->seek(start);
    // S3 answers an empty, untruncated page for max-keys=0.
    return result;
  }
  it->seek(start);
  while (it->valid()) {
    std::string_view full = it->key();
    std::string_view key = full.substr(base.size());
    if (!q.delimiter.empty()) {
      size_t d = key.find(q.delimiter, q.prefix.size());
      if (d != std::string_view::npos) {
        std::string common(key.substr(0, d + q.delimiter.size()));
        // A prefix the marker already lies within was returned on an earlier page.
        if (q.after.empty() || !(q.after >= common && q.after.compare(0, common.size(), common) == 0)) {
          if (static_cast<int>(result.entries.size()) == q.max_keys) {
            result.truncated = true;
            break;
          }
          ListEntry e;
          e.is_prefix = true;
          e.prefix = common;
          result.entries.push_back(std::move(e));
        }
        std::string next = record::prefix_successor(common);
        if (next.empty()) break;
        it->seek(base + next);
        continue;
      }
    }
    if (static_cast<int>(result.entries.size()) == q.max_keys) {
      result.truncated = true;
      break;
    }
    auto o = decode_object(key, it->value());
    if (o) {
      ListEntry e;
      e.object = std::move(*o);
      result.entries.push_back(std::move(e));
    }
    it->next();
  }
  return result;
}

void ObjectStore::clear_files() {
  std::lock_guard lock(write_mutex_);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec))
    if (entry.path().filename() != ".incoming" && entry.path().filename() != kMasterKeyFile)  // the key outlives a reset
      std::filesystem::remove(entry.path(), ec);  // uploads in flight keep their spool files
}

}  // namespace vigil::s3
