// The S3 model: buckets (global names, owned by one account) and objects. Object bytes live
// in files under <root>/ (written to a temp file, fsync'ed, renamed); their metadata is one
// record per object in the store's Meta keyspace, keyed "s3:o:" + bucket + '\0' + key, so
// listing is an ordered range scan that never loads a whole bucket. Plain C++, no HTTP.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "services/s3/checksum.h"
#include "services/s3/sse.h"
#include "store/store.h"

namespace vigil::kms {
class KeyStore;
}

namespace vigil::s3 {

struct BucketRecord {
  std::string name, owner_account, region;
  double created = 0;
};

// How an object is encrypted, as S3 answers about it. Whatever the algorithm, its bytes at rest
// are encrypted the same way (sse.h: a data key per file, sealed by the server's master key);
// an SSE-KMS object's data key is then wrapped by its KMS key instead (wrap_for_kms).
// SSE-KMS names a KMS key (the KMS service's KeyStore, set_kms; the account's AWS managed key
// aws/s3 when none is named): S3 checks the key is usable when an object is written, read or
// copied (a disabled key or one pending deletion fails the request as KMS.DisabledException /
// KMS.KMSInvalidStateException), and reports the algorithm, the key's ARN, the encryption
// context and the bucket-key flag.
struct ObjectEncryption {
  // "AES256" or "aws:kms". Empty: not chosen yet (commit_object applies the bucket's default),
  // or, in a record read back, one written before SSE-KMS existed (AES256).
  std::string algorithm;
  std::string kms_key_arn;  // aws:kms: the key's ARN
  std::string context;      // x-amz-server-side-encryption-context as the writer sent it (base64 JSON); empty: none sent
  bool bucket_key = false;  // BucketKeyEnabled (aws:kms only)
};

// The x-amz-server-side-encryption* headers of a write; empty members were not sent.
struct EncryptionRequest {
  std::string algorithm, kms_key_id, context;
  std::optional<bool> bucket_key;
};

// A bucket's default encryption (PutBucketEncryption), as put.
struct BucketEncryption {
  std::string algorithm = "AES256";
  std::string kms_key_id;  // KMSMasterKeyID as given: S3 checks it when an object uses it
  bool bucket_key = false;
};

// A KMS key id as S3 takes it (key id, key ARN, alias name or alias ARN) resolved to a key's
// ARN, when the only key of (account, region) is `managed_arn` (aws/s3); an empty id is that
// key. Anything else throws KMS.NotFoundException (400), S3's answer for a key that does not
// exist: "Invalid arn <region>" for an ARN of another region, "Key '<arn>' does not exist" for
// a key id, "Invalid keyId <id>" otherwise (an alias, or "aws/s3" without "alias/").
std::string resolve_kms_key(std::string_view id, std::string_view account, std::string_view region, const std::string& managed_arn);

struct ObjectRecord {
  std::string key;
  uint64_t size = 0;
  std::string etag;  // lowercase MD5 hex, unquoted
  std::string content_type;
  double last_modified = 0;
  std::string file;  // file name under the object directory
  std::vector<std::pair<std::string, std::string>> metadata;  // x-amz-meta-* (name without prefix)
  // Cache-Control, Content-Disposition, Content-Encoding, Content-Language, Expires (raw text)
  std::vector<std::pair<std::string, std::string>> headers;
  // The file's data key and IV sealed by the master key (sse.h); empty: a plaintext file
  // written before encryption at rest (records without the field still decode).
  std::string sse;
  // The additional checksum (checksum.h), verified or computed when the object was written;
  // empty for records written before checksums. An upload record's `meta` keeps the upload's
  // algorithm and type here, without a value.
  StoredChecksum checksum;
  // Objects made by CompleteMultipartUpload: how many parts (their numbers, sizes and checksums
  // are a record of their own, ObjectStore::parts(), read only by partNumber requests and
  // GetObjectAttributes, so that listing and GET never decode up to 10,000 entries). 0: a
  // single-part object, or a multipart one stored before part records were kept (answered as
  // single-part: its part boundaries are unknown).
  uint64_t parts_count = 0;
  ObjectEncryption encryption;

  std::string quoted_etag() const { return "\"" + etag + "\""; }
};

// One part of a completed multipart object, as CompleteMultipartUpload listed it.
struct ObjectPart {
  int number = 0;     // the part number it was uploaded as (gaps allowed: 1, 3, 7)
  uint64_t size = 0;  // bytes; the part's offset is the sum of the sizes before it
  std::string checksum;  // base64, of the object's checksum algorithm; empty: none was kept
};

// A conditional write (If-Match / If-None-Match of PutObject, CopyObject and
// CompleteMultipartUpload): checked once before the body is stored (early failure, nothing
// written) and again under the write lock against the object the commit replaces, so no
// other write can slip in between the check and the commit.
struct WriteCondition {
  std::optional<std::string> if_match;  // the ETag the current object must have (quotes allowed)
  bool if_none_match = false;           // If-None-Match: * (the key must not exist)
  bool empty() const { return !if_match && !if_none_match; }
};
// Throws S3's error when `c` does not hold for `current` (null: no object at the key):
// PreconditionFailed (412) for an existing key with If-None-Match or another ETag with
// If-Match; for If-Match on a missing key NoSuchKey (404) before the write, and
// ConditionalRequestConflict (409) at the commit (the object was deleted while the body was
// being written, as S3 answers a conflicting operation during the upload).
void check_write_condition(const WriteCondition& c, const ObjectRecord* current, bool committing, std::string_view key);

// S3's bucket naming rules (general purpose buckets).
bool valid_bucket_name(std::string_view name);

std::string md5_hex(std::string_view data);

// A Range header against an object of `size` bytes. nullopt: no usable range (absent, malformed
// or several ranges: S3 then answers the whole object). unsatisfiable: first byte past the end.
struct ByteRange {
  uint64_t first = 0, last = 0;
};
std::optional<ByteRange> parse_range(std::string_view header, uint64_t size, bool& unsatisfiable);

// Outcome of the If-* headers of GET/HEAD (RFC 7232 order, as S3 applies it).
enum class Precondition { Proceed, NotModified, Failed };
struct Conditions {
  std::optional<std::string> if_match, if_none_match;
  std::optional<double> if_modified_since, if_unmodified_since;
};
Precondition evaluate_conditions(const Conditions& c, const ObjectRecord& object);

struct ListQuery {
  std::string prefix, delimiter;
  std::string after;  // only keys (and prefixes) strictly greater than this
  int max_keys = 1000;
};
struct ListEntry {
  bool is_prefix = false;
  std::string prefix;   // when is_prefix
  ObjectRecord object;  // otherwise
  const std::string& name() const { return is_prefix ? prefix : object.key; }
};
struct ListResult {
  std::vector<ListEntry> entries;  // keys and common prefixes interleaved in key order
  bool truncated = false;
};

// One file under the object directory, written durably: bytes are appended to a temp file as
// they come (the MD5 is computed on the way), commit() fsyncs it, renames it to its name and
// syncs the directory, so a record pointing at it can be committed next. Destroyed without
// commit(), the temp file is removed. append() takes any slice of a body, so a streaming
// request body can be written chunk by chunk; append_file() copies a byte range of another
// file through a bounded buffer (multipart assembly, copies), never the whole file in memory.
//
// Encryption at rest: given a master key, the file gets a fresh data key and every appended
// byte is written under AES-256-CTR at its own offset (sealed_key() goes into the record).
// The MD5 is over the plaintext. append() encrypts through a 64 KiB scratch buffer, so memory
// stays bounded whatever the slice size.
class DurableFile {
 public:
  // `master` null: a plaintext file (unit tests of the legacy format only).
  DurableFile(std::string dir, std::string name, const MasterKey* master = nullptr);
  // Adopts a file already written elsewhere on the same filesystem (a spooled request body):
  // `fd` (open for writing) and `path` become this file's, so commit() fsyncs it and renames it
  // into place instead of copying its bytes. `md5` is its MD5 (16 raw bytes) if known; if not,
  // the file is read once (1 MiB at a time) to compute it.
  // `key`/`sealed`: the data key the spooled file is already encrypted with (SpoolPlan), or
  // none for a plaintext spool file.
  DurableFile(std::string dir, std::string name, int fd, std::string path, uint64_t size, std::string md5,
              std::optional<DataKey> key = std::nullopt, std::string sealed = {});
  ~DurableFile();
  DurableFile(const DurableFile&) = delete;
  DurableFile& operator=(const DurableFile&) = delete;

  void append(std::string_view data);
  // `source_key`: the source file's data key (decrypted on the way), null for plaintext.
  void append_file(const std::string& path, uint64_t offset, uint64_t length, const DataKey* source_key = nullptr);
  void commit();

  const std::string& name() const { return name_; }
  uint64_t size() const { return size_; }
  const std::string& sealed_key() const { return sealed_; }  // empty: plaintext
  std::string md5_hex();     // of everything appended; call once, after the last append
  std::string md5_binary();  // the same as 16 raw bytes
  // An additional checksum of the plaintext, computed as bytes are appended (set before the
  // first append), and its raw digest after the last (once).
  void set_checksum(ChecksumAlgorithm a) { checksum_ = std::make_unique<Checksummer>(a); }
  std::string checksum_digest() { return checksum_ ? checksum_->digest() : std::string(); }

 private:
  void fail(const std::string& what);
  std::string dir_, name_, tmp_path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  void* md5_ = nullptr;  // EVP_MD_CTX (OpenSSL stays out of this header)
  std::string digest_;
  bool committed_ = false;
  std::optional<DataKey> key_;
  std::string sealed_;
  std::string scratch_;  // ciphertext of the slice being written (64 KiB at most)
  std::unique_ptr<Checksummer> checksum_;
};

class ObjectStore {
 public:
  ObjectStore(store::Store& store, std::string object_dir);

  std::optional<BucketRecord> bucket(std::string_view name) const;
  // Creates the bucket unless the name is taken; then returns the existing bucket instead.
  std::optional<BucketRecord> create_bucket(const BucketRecord& bucket);
  bool bucket_empty(std::string_view name) const;
  // Deletes the bucket if it holds no object (false otherwise); atomic with respect to put().
  bool delete_bucket_if_empty(std::string_view name);
  std::vector<BucketRecord> buckets_of(std::string_view account) const;  // by name

  // The bucket policy document (JSON text as the owner put it), kept at "s3:p:" + bucket and
  // deleted with the bucket. Validation is the caller's (bucket_policy.h).
  std::optional<std::string> bucket_policy(std::string_view bucket) const;
  void put_bucket_policy(std::string_view bucket, std::string_view policy);
  void delete_bucket_policy(std::string_view bucket);

  // The bucket's default encryption configuration, kept at "s3:e:" + bucket and deleted with
  // the bucket; nullopt: no explicit configuration (S3's default rule, AES256, applies).
  std::optional<BucketEncryption> bucket_encryption(std::string_view bucket) const;
  void put_bucket_encryption(std::string_view bucket, const BucketEncryption& encryption);
  void delete_bucket_encryption(std::string_view bucket);
  // The ARN of an account's AWS managed key for S3 in a region (alias aws/s3). Its id is
  // derived from the master key: stable across restarts, different per account and region.
  std::string aws_managed_kms_key(std::string_view account, std::string_view region) const;
  // The KMS keys SSE-KMS may name (the app's KMS service). Unset (unit tests): only aws/s3 exists.
  void set_kms(kms::KeyStore* keys) { kms_ = keys; }
  // Throws S3's KMS.* error unless the encryption's KMS key (if any) can be used now: GetObject,
  // a copy's source, UploadPart and CompleteMultipartUpload fail while it is disabled, pending
  // deletion or deleted. An ARN of an account's aws/s3 key that KMS has not created yet (objects
  // written before KMS existed) creates it.
  void check_kms_key(const ObjectEncryption& encryption) const;
  const MasterKey& master_key() const { return master_; }
  // The encryption of an object written to `bucket` with `request`'s headers: their algorithm
  // or else the bucket's default (else AES256); for aws:kms, the request's key (or, when the
  // algorithm is the default's, the default's KMSMasterKeyID) resolved by resolve_kms_key, the
  // request's context, and its bucket-key flag or else the default's. Throws
  // KMS.NotFoundException for a key that does not exist. One point read (the default).
  ObjectEncryption resolve_encryption(const BucketRecord& bucket, const EncryptionRequest& request) const;

  std::optional<ObjectRecord> head(std::string_view bucket, std::string_view key) const;
  std::string read(const ObjectRecord& object, uint64_t offset, uint64_t length) const;
  // A read-only descriptor on the object's file (the caller closes it), for streaming its bytes
  // out; it keeps reading the same bytes even if the object is overwritten or deleted later.
  // nullopt when the file is already gone: the object was replaced or deleted since `object`
  // was read, and the caller looks it up again.
  std::optional<int> open(const ObjectRecord& object) const;
  // Stores the body durably (file first, then the record) and returns the record as stored.
  // `meta` supplies content type, metadata and headers; size, etag, file and time are set here.
  // Throws NoSuchBucket if the bucket was deleted meanwhile.
  // `condition`: checked at the commit (check_write_condition()); when it fails nothing is stored.
  ObjectRecord put(std::string_view bucket, std::string_view key, std::string_view body, ObjectRecord meta, double now,
                   const WriteCondition& condition = {});
  // Like put() with a file filled by the caller (a streamed upload; from new_file() or
  // adopt_file()); commits it.
  ObjectRecord put_file(std::string_view bucket, std::string_view key, DurableFile& file, ObjectRecord meta, double now,
                        const WriteCondition& condition = {}) {
    return commit_file(bucket, key, file, std::move(meta), now, condition);
  }
  // Like put() with the bytes of `source` (file to file, never whole in memory): CopyObject.
  // The copy's full-object checksum is computed with `checksum` on the way (None: none).
  ObjectRecord copy(std::string_view bucket, std::string_view key, const ObjectRecord& source, ObjectRecord meta, double now,
                    ChecksumAlgorithm checksum = ChecksumAlgorithm::None, const WriteCondition& condition = {});
  // The parts of a multipart object, in order (empty for a single-part object). nullopt: the
  // object was replaced or deleted since `object` was read (its parts went with it), and the
  // caller reads the record again. One point read of `parts_count` entries of
  // 24 bytes plus the part's base64 checksum.
  std::optional<std::vector<ObjectPart>> parts(const ObjectRecord& object) const;
  bool remove(std::string_view bucket, std::string_view key);
  ListResult list(std::string_view bucket, const ListQuery& query) const;

  // After the store was cleared: drop every object file.
  void clear_files();

  // For models that keep their own records and files next to the objects (multipart uploads):
  // a new durable file in the object directory, the path of a file there, and a commit of an
  // object record together with the caller's batch, atomic with respect to put()/remove()/
  // bucket deletion. `prepare` runs under the write lock before anything is written: it checks
  // its own state (throwing to abandon) and adds its records to the batch. The replaced
  // object's file is removed after the commit, as are `stale_files` (say, the parts).
  // `parts` (record.parts_count of them) are stored with the record; `condition` is checked
  // against the object being replaced.
  DurableFile new_file() const { return DurableFile(dir_, new_file_name(), &master_); }
  // A new durable file made of a spooled request body (renamed into place at commit, not copied).
  // `sealed`: the data key the listener encrypted it with (spool_cipher()); empty: plaintext.
  DurableFile adopt_file(int fd, std::string path, uint64_t size, std::string md5, const std::string& sealed = {}) const {
    return DurableFile(dir_, new_file_name(), fd, std::move(path), size, std::move(md5), data_key(sealed), sealed);
  }
  // A fresh data key for a spool file, and its sealed form (the tag the body file carries).
  std::pair<DataKey, std::string> spool_key() const {
    DataKey k = MasterKey::new_data_key();
    return {k, master_.seal(k)};
  }
  // The data key of a record's file (`sealed` from ObjectRecord::sse or PartRecord::sse);
  // nullopt for a plaintext (pre-encryption) file. Throws if the blob does not unseal. An
  // SSE-KMS object's key is wrapped by its KMS key (wrap_for_kms): unwrapping it needs the
  // key usable (S3's KMS.* errors otherwise), as reading an SSE-KMS object in S3 does.
  // `file`: the record's file (a wrapped key is bound to it).
  std::optional<DataKey> data_key(const std::string& sealed, std::string_view file = {}) const;
  // Where the HTTP listener spools large request bodies: inside the object directory, so on
  // its filesystem (a rename moves a body into place), but never listed or cleared as objects.
  // Emptied when the store opens (bodies of requests a crash interrupted).
  std::string spool_dir() const { return dir_ + "/.incoming"; }
  // Appends a byte range of an object's file; NoSuchKey when the object's file is gone
  // (overwritten or deleted since `source` was read).
  void append_object(DurableFile& file, const ObjectRecord& source, uint64_t offset, uint64_t length) const;
  std::string path_of(const std::string& file) const { return dir_ + "/" + file; }
  // The master key's file: `<object dir>/.master-key` (never listed, cleared or reset).
  static constexpr const char* kMasterKeyFile = ".master-key";
  ObjectRecord commit_object(std::string_view bucket, ObjectRecord record, const std::function<void(store::WriteBatch&)>& prepare,
                             const std::vector<std::string>& stale_files, const std::vector<ObjectPart>& parts = {},
                             const WriteCondition& condition = {});
  // Runs `fn` under the write lock (a model's own read-then-write changes that must not
  // interleave with bucket deletion).
  void locked(const std::function<void()>& fn);
  // A model's records that go with a bucket: called under the write lock when an empty bucket
  // is deleted, to add erasures to the batch and name the files to remove after the commit.
  using BucketCleanup = std::function<void(std::string_view bucket, store::WriteBatch& batch, std::vector<std::string>& files)>;
  // `owner` identifies the registration for remove_bucket_cleanup() (the model's destructor).
  void on_bucket_delete(const void* owner, BucketCleanup cleanup);
  void remove_bucket_cleanup(const void* owner);

  static std::string encode(const ObjectRecord& r);
  static std::optional<ObjectRecord> decode_object(std::string_view key, std::string_view bytes);
  static std::string encode_parts(const std::vector<ObjectPart>& parts);
  static std::optional<std::vector<ObjectPart>> decode_parts(std::string_view bytes);

 private:
  static std::string new_file_name();
  void put_bucket_setting(std::string_view bucket, const std::string& key, std::string_view value);
  void delete_bucket_setting(const std::string& key);
  ObjectRecord commit_file(std::string_view bucket, std::string_view key, DurableFile& file, ObjectRecord meta, double now,
                           const WriteCondition& condition);
  store::Store& store_;
  std::string dir_;
  // An SSE-KMS key id as a write names it, resolved to the ARN of a usable key (throws S3's KMS.* errors).
  std::string usable_kms_key(std::string_view id, std::string_view account, std::string_view region) const;
  void check_kms_usable(const std::string& key_arn) const;
  // Envelope encryption of an SSE-KMS object (DESIGN.md): the file's data key, sealed by the
  // master key when the file was written, re-wrapped by the object's KMS key, so that only
  // that key (while usable) opens the file and deleting the key shreds the object:
  //   0x02 | ARN length (1) | key ARN | KMS blob of key || iv (keys.h)
  // with the purpose and `file` (the object's file name) as encryption context. Objects
  // written before envelope encryption keep their master-sealed key (0x01). One KMS call
  // (AES-GCM over 48 bytes) per write and per read; S3's KMS.* errors for an unusable key.
  std::string wrap_for_kms(const std::string& sealed, const std::string& key_arn, std::string_view file) const;
  bool needs_kms_wrap(const ObjectRecord& record) const;  // SSE-KMS with a master-sealed key
  kms::KeyStore* kms_ = nullptr;
  MasterKey master_;  // loaded (or created) from <dir>/.master-key; after dir_: built from it
  // Serialises record changes that read before they write: object put/remove with their file
  // swap, bucket create (name check) and delete (emptiness check).
  mutable std::mutex write_mutex_;
  std::vector<std::pair<const void*, BucketCleanup>> bucket_cleanups_;
};

}  // namespace vigil::s3
