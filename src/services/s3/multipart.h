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
  ObjectRecord meta;  // content type, metadata and headers of the object to be (size etc. unset)
};

struct PartRecord {
  int number = 0;
  uint64_t size = 0;
  std::string etag;  // lowercase MD5 hex, unquoted
  double last_modified = 0;
  std::string file;
  std::string sse;  // the file's sealed data key (sse.h); empty: a plaintext part file
  std::string quoted_etag() const { return "\"" + etag + "\""; }
};

struct CompletedPart {
  int number = 0;
  std::string etag;  // as the client sent it (quotes allowed)
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

  // Stores a part durably (file, then record), replacing a part of the same number. Throws
  // NoSuchUpload when the upload is gone (also when it went while the part was written).
  PartRecord put_part(const UploadRecord& upload, int number, std::string_view body, double now);
  // The same with a file the caller filled (a streamed upload, from ObjectStore::new_file() or
  // adopt_file()); commits it.
  PartRecord put_part_file(const UploadRecord& upload, int number, DurableFile& file, double now) { return commit_part(upload, number, file, now); }
  // The same with a byte range of an existing object (UploadPartCopy), copied file to file.
  PartRecord copy_part(const UploadRecord& upload, int number, const ObjectRecord& source, uint64_t offset, uint64_t length, double now);

  // Checks the list (ascending numbers: InvalidPartOrder; every part uploaded with that ETag:
  // InvalidPart; all but the last at least 5 MiB: EntityTooSmall), assembles the object and
  // commits it. Throws NoSuchUpload if the upload was completed or aborted meanwhile.
  ObjectRecord complete(const UploadRecord& upload, const std::vector<CompletedPart>& parts, double now);
  // Removes the upload, its parts and their files. False when there was no such upload.
  bool abort(std::string_view bucket, std::string_view key, std::string_view upload_id);

  UploadListResult list_uploads(std::string_view bucket, const UploadListQuery& query) const;
  PartListResult list_parts(const UploadRecord& upload, int after, int max_parts) const;

  static std::string encode(const UploadRecord& u);
  static std::optional<UploadRecord> decode_upload(std::string_view record_key, std::string_view bytes);

 private:
  std::vector<PartRecord> parts_of(std::string_view upload_id) const;
  PartRecord commit_part(const UploadRecord& upload, int number, DurableFile& file, double now);
  void erase_upload(store::WriteBatch& batch, const UploadRecord& upload, std::vector<std::string>& files) const;

  store::Store& store_;
  ObjectStore& objects_;
};

}  // namespace vigil::s3
