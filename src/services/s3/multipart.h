// S3 multipart uploads: the model behind CreateMultipartUpload, UploadPart(Copy),
// CompleteMultipartUpload, AbortMultipartUpload, ListMultipartUploads and ListParts.
//
// Records live in the store's Meta keyspace next to the objects:
//   s3:u:<bucket>\0<key>\0<upload id>  one per upload in progress (owner, initiator, time, and
//                                       the content type / metadata / headers given at create)
//   s3:pt:<upload id>\0<part number, 5 digits>  one per part (size, MD5, time, file)
// Upload ids start with the initiation time (fixed-width hex), so the uploads of a key sort by
// initiation time as S3 lists them, and lexicographic upload-id-marker paging is S3's too.
// Part bytes are files in the object directory (durable before the part is acknowledged);
// Complete assembles the object file by streaming the parts file to file and commits the
// object record, the upload's erasure and its parts' erasure in one batch.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "services/s3/object_store.h"
#include "store/store.h"

namespace vigil::s3 {

inline constexpr uint64_t kMinPartSize = 5ull << 20;  // every part but the last (EntityTooSmall)
inline constexpr int kMaxPartNumber = 10000;

struct UploadRecord {
  std::string bucket, key, upload_id;
  std::string owner_account, initiator_arn;
  double initiated = 0;
  // Content type, metadata and headers of the object to be (size etc. unset), and in
  // meta.checksum the checksum algorithm and type given at creation (no value; empty: none).
  ObjectRecord meta;
};

struct PartRecord {
  int number = 0;
  uint64_t size = 0;
  std::string etag;  // lowercase MD5 hex, unquoted
  double last_modified = 0;
  std::string file;
  std::string sse;  // the file's sealed data key (sse.h); empty: a plaintext part file
  StoredChecksum checksum;  // algorithm and base64 value (no type); empty: none
  std::string quoted_etag() const { return "\"" + etag + "\""; }
};

struct CompletedPart {
  // A constructor, not an aggregate: lists of {number, etag} stay valid without -Wextra's
  // missing-initializer warning for the checksum.
  CompletedPart(int n = 0, std::string e = {}, StoredChecksum c = {}) : number(n), etag(std::move(e)), checksum(std::move(c)) {}
  int number = 0;
  std::string etag;  // as the client sent it (quotes allowed)
  // The part's checksum as the client listed it (Checksum<algorithm>): algorithm name and
  // base64 value, empty when not given.
  StoredChecksum checksum;
};

struct UploadListQuery {
  std::string prefix, delimiter, key_marker, upload_id_marker;
  int max_uploads = 1000;
};
struct UploadListEntry {
  bool is_prefix = false;
  std::string prefix;   // when is_prefix
  UploadRecord upload;  // otherwise
};
struct UploadListResult {
  std::vector<UploadListEntry> entries;  // uploads and common prefixes in key order
  bool truncated = false;
  std::string next_key_marker, next_upload_id_marker;
};

struct PartListResult {
  std::vector<PartRecord> parts;
  bool truncated = false;
  int next_marker = 0;
};

// The multipart ETag: MD5 of the concatenated binary MD5s of the parts, then "-<count>".
std::string multipart_etag(const std::vector<std::string>& part_md5_hex);

class MultipartUploads {
 public:
  // Registers itself with `objects` so that deleting a bucket drops its uploads and parts: as
  // in S3, uploads in progress do not keep a bucket from being deleted (objects do).
  MultipartUploads(store::Store& store, ObjectStore& objects);
  ~MultipartUploads();
  MultipartUploads(const MultipartUploads&) = delete;
  MultipartUploads& operator=(const MultipartUploads&) = delete;

  // Starts an upload; `upload.upload_id` is assigned here. Throws NoSuchBucket.
  UploadRecord create(UploadRecord upload);
  std::optional<UploadRecord> find(std::string_view bucket, std::string_view key, std::string_view upload_id) const;

  // Stores a part durably (file, then record), replacing a part of the same number, with its
  // checksum (verified by the caller). Throws NoSuchUpload when the upload is gone (also when
  // it went while the part was written).
  PartRecord put_part(const UploadRecord& upload, int number, std::string_view body, double now, StoredChecksum checksum = {});
  // The same with a file the caller filled (a streamed upload, from ObjectStore::new_file() or
  // adopt_file()); commits it.
  PartRecord put_part_file(const UploadRecord& upload, int number, DurableFile& file, double now, StoredChecksum checksum = {}) {
    return commit_part(upload, number, file, now, std::move(checksum));
  }
  // The same with a byte range of an existing object (UploadPartCopy), copied file to file; the
  // part's checksum is computed on the way with the upload's algorithm.
  PartRecord copy_part(const UploadRecord& upload, int number, const ObjectRecord& source, uint64_t offset, uint64_t length, double now);

  // Checks the list (ascending numbers: InvalidPartOrder; every part uploaded with that ETag:
  // InvalidPart; all but the last at least 5 MiB: EntityTooSmall; with the upload's checksum
  // algorithm, each part's checksum as listed: InvalidPart, or InvalidRequest when a composite
  // upload's list lacks one), assembles the object and commits it with its checksum: the
  // composite of the parts' checksums, or the algorithm over the whole object (FULL_OBJECT,
  // computed while the parts are streamed into the object file; CRC64NVME for an upload created
  // without an algorithm, as S3 does). `expected`: the object checksum the client sent with
  // the request (algorithm and base64 value): BadDigest when it differs. Throws NoSuchUpload if the upload was completed or
  // aborted meanwhile. The object's record keeps the parts listed (number, size, checksum) for
  // partNumber reads and GetObjectAttributes. `condition`: If-Match / If-None-Match, checked
  // before the parts are assembled and again at the commit; a ConditionalRequestConflict (the
  // object went meanwhile) also ends the upload, as S3 asks for a new one then, while a
  // PreconditionFailed leaves it to be completed again. `object_size` (x-amz-mp-object-size):
  // the size the parts must add up to (InvalidRequest otherwise).
  ObjectRecord complete(const UploadRecord& upload, const std::vector<CompletedPart>& parts, double now, const StoredChecksum& expected = {},
                        const WriteCondition& condition = {}, std::optional<uint64_t> object_size = std::nullopt);
  // Removes the upload, its parts and their files. False when there was no such upload.
  bool abort(std::string_view bucket, std::string_view key, std::string_view upload_id);

  UploadListResult list_uploads(std::string_view bucket, const UploadListQuery& query) const;
  PartListResult list_parts(const UploadRecord& upload, int after, int max_parts) const;

  static std::string encode(const UploadRecord& u);
  static std::optional<UploadRecord> decode_upload(std::string_view record_key, std::string_view bytes);

 private:
  std::vector<PartRecord> parts_of(std::string_view upload_id) const;
  ObjectRecord assemble(const UploadRecord& upload, const std::vector<CompletedPart>& parts, double now, const StoredChecksum& expected,
                        const WriteCondition& condition, std::optional<uint64_t> object_size);
  PartRecord commit_part(const UploadRecord& upload, int number, DurableFile& file, double now, StoredChecksum checksum);
  void erase_upload(store::WriteBatch& batch, const UploadRecord& upload, std::vector<std::string>& files) const;

  store::Store& store_;
  ObjectStore& objects_;
};

}  // namespace vigil::s3
