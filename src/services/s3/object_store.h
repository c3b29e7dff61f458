// The S3 model: buckets (global names, owned by one account) and objects. Object bytes live
// in files under <root>/ (written to a temp file, fsync'ed, renamed); their metadata is one
// record per object in the store's Meta keyspace, keyed "s3:o:" + bucket + '\0' + key, so
// listing is an ordered range scan that never loads a whole bucket. Plain C++, no HTTP.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/store.h"

namespace vigil::s3 {

struct BucketRecord {
  std::string name, owner_account, region;
  double created = 0;
};

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

  std::string quoted_etag() const { return "\"" + etag + "\""; }
};

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

  std::optional<ObjectRecord> head(std::string_view bucket, std::string_view key) const;
  std::string read(const ObjectRecord& object, uint64_t offset, uint64_t length) const;
  // Stores the body durably (file first, then the record) and returns the record as stored.
  // `meta` supplies content type, metadata and headers; size, etag, file and time are set here.
  // Throws NoSuchBucket if the bucket was deleted meanwhile.
  ObjectRecord put(std::string_view bucket, std::string_view key, std::string_view body, ObjectRecord meta, double now);
  bool remove(std::string_view bucket, std::string_view key);
  ListResult list(std::string_view bucket, const ListQuery& query) const;

  // After the store was cleared: drop every object file.
  void clear_files();

  static std::string encode(const ObjectRecord& r);
  static std::optional<ObjectRecord> decode_object(std::string_view key, std::string_view bytes);

 private:
  std::string path_of(const std::string& file) const { return dir_ + "/" + file; }
  store::Store& store_;
  std::string dir_;
  // Serialises record changes that read before they write: object put/remove with their file
  // swap, bucket create (name check) and delete (emptiness check).
  mutable std::mutex write_mutex_;
};

}  // namespace vigil::s3
