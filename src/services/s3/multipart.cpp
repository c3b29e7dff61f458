#include "services/s3/multipart.h"
#include "services/s3/s3_errors.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <cctype>
#include <map>

#include "core/aws_error.h"
#include "core/encoding.h"
#include "core/ids.h"
#include "services/s3/record_encoding.h"

namespace vigil::s3 {

namespace {

using record::bits_of;
using record::double_of;
using record::put_str;
using record::Reader;

constexpr std::string_view kUploadPrefix = "s3:u:";
constexpr std::string_view kPartPrefix = "s3:pt:";

// S3 names the part it could not use: the upload, the part's number and the ETag asked for.
AwsError invalid_part(const std::string& upload_id, int number, const std::string& etag) {
  return AwsError("InvalidPart",
                  "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
                  400)
      .with("UploadId", upload_id)
      .with("PartNumber", std::to_string(number))
      .with("ETag", etag);
}

std::string upload_base(std::string_view bucket) {
  std::string k(kUploadPrefix);
  k += bucket;
  k += '\0';
  return k;
}
std::string upload_end(std::string_view bucket) {
  std::string k(kUploadPrefix);
  k += bucket;
  k += '\1';
  return k;
}
std::string upload_key(std::string_view bucket, std::string_view key, std::string_view upload_id) {
  std::string k = upload_base(bucket);
  k += key;
  k += '\0';
  k += upload_id;
  return k;
}
std::string part_base(std::string_view upload_id) {
  std::string k(kPartPrefix);
  k += upload_id;
  k += '\0';
  return k;
}
std::string part_key(std::string_view upload_id, int number) {
  char digits[8];
  std::snprintf(digits, sizeof digits, "%05d", number);  // fixed width: the scan is in part order
  return part_base(upload_id) + digits;
}


std::string encode_part(const PartRecord& p) {
  std::string out;
  append_u64(out, p.size);
  put_str(out, p.etag);
  append_u64(out, bits_of(p.last_modified));
  put_str(out, p.file);
  // Optional trailers: older part records end before the data key, or before the checksum.
  if (!p.sse.empty() || !p.checksum.empty()) put_str(out, p.sse);
  if (!p.checksum.empty()) {
    put_str(out, p.checksum.algorithm);
    put_str(out, p.checksum.value);
  }
  return out;
}
std::optional<PartRecord> decode_part(std::string_view record_key, std::string_view bytes) {
  size_t nul = record_key.rfind('\0');
  if (nul == std::string_view::npos) return std::nullopt;
  PartRecord p;
  for (char c : record_key.substr(nul + 1)) p.number = p.number * 10 + (c - '0');
  Reader r{bytes};
  p.size = r.u64();
  p.etag = r.str();
  p.last_modified = double_of(r.u64());
  p.file = r.str();
  if (r.ok && r.pos < r.in.size()) p.sse = r.str();
  if (r.ok && r.pos < r.in.size()) {
    p.checksum.algorithm = r.str();
    p.checksum.value = r.str();
  }
  if (!r.ok) return std::nullopt;
  return p;
}



// Initiation time first (16 hex digits of microseconds: sorts as it reads), then randomness
// so that ids are not guessable and never collide.
std::string new_upload_id(double now) {
  char time_hex[17];
  std::snprintf(time_hex, sizeof time_hex, "%016llx", static_cast<unsigned long long>(now * 1e6));
  std::string random = new_uuid();
  std::string id(time_hex);
  for (char c : random)
    if (c != '-') id += c;
  return id;
}

}  // namespace

std::string multipart_etag(const std::vector<std::string>& part_md5_hex) {
  std::string binary;
  for (const auto& hex : part_md5_hex) {
    for (size_t i = 0; i + 1 < hex.size(); i += 2) binary += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return md5_hex(binary) + "-" + std::to_string(part_md5_hex.size());
}

MultipartUploads::MultipartUploads(store::Store& store, ObjectStore& objects) : store_(store), objects_(objects) {
  objects_.on_bucket_delete(this, [this](std::string_view bucket, store::WriteBatch& batch, std::vector<std::string>& files) {
    std::string lower = upload_base(bucket), upper = upload_end(bucket);
    auto it = store_.iterate(store::Keyspace::Meta, lower, upper);
    for (it->seek(lower); it->valid(); it->next())
      if (auto u = decode_upload(it->key(), it->value())) erase_upload(batch, *u, files);
  });
}

MultipartUploads::~MultipartUploads() { objects_.remove_bucket_cleanup(this); }

std::string MultipartUploads::encode(const UploadRecord& u) {
  std::string out;
  put_str(out, u.owner_account);
  put_str(out, u.initiator_arn);
  append_u64(out, bits_of(u.initiated));
  put_str(out, ObjectStore::encode(u.meta));
  return out;
}

std::optional<UploadRecord> MultipartUploads::decode_upload(std::string_view record_key, std::string_view bytes) {
  if (record_key.substr(0, kUploadPrefix.size()) != kUploadPrefix) return std::nullopt;
  std::string_view rest = record_key.substr(kUploadPrefix.size());
  size_t first = rest.find('\0'), last = rest.rfind('\0');
  if (first == std::string_view::npos || first == last) return std::nullopt;
  UploadRecord u;
  u.bucket = std::string(rest.substr(0, first));
  u.key = std::string(rest.substr(first + 1, last - first - 1));
  u.upload_id = std::string(rest.substr(last + 1));
  Reader r{bytes};
  u.owner_account = r.str();
  u.initiator_arn = r.str();
  u.initiated = double_of(r.u64());
  std::string meta = r.str();
  if (!r.ok) return std::nullopt;
  auto m = ObjectStore::decode_object(u.key, meta);
  if (!m) return std::nullopt;
  u.meta = std::move(*m);
  return u;
}

UploadRecord MultipartUploads::create(UploadRecord upload) {
  upload.upload_id = new_upload_id(upload.initiated);
  upload.meta.key = upload.key;
  objects_.locked([&] {
    if (!objects_.bucket(upload.bucket)) throw no_such_bucket(upload.bucket);
    store::WriteBatch batch(store_);
    batch.put(store::Keyspace::Meta, upload_key(upload.bucket, upload.key, upload.upload_id), encode(upload));
    store_.write(batch);
  });
  return upload;
}

std::optional<UploadRecord> MultipartUploads::find(std::string_view bucket, std::string_view key, std::string_view upload_id) const {
  if (upload_id.empty() || upload_id.find('\0') != std::string_view::npos) return std::nullopt;
  std::string k = upload_key(bucket, key, upload_id);
  auto bytes = store_.get(store::Keyspace::Meta, k);
  if (!bytes) return std::nullopt;
  return decode_upload(k, *bytes);
}

PartRecord MultipartUploads::put_part(const UploadRecord& upload, int number, std::string_view body, double now, StoredChecksum checksum) {
  DurableFile file = objects_.new_file();
  file.append(body);
  return commit_part(upload, number, file, now, std::move(checksum));
}

PartRecord MultipartUploads::copy_part(const UploadRecord& upload, int number, const ObjectRecord& source, uint64_t offset, uint64_t length,
                                       double now) {
  DurableFile file = objects_.new_file();
  auto algorithm = checksum_algorithm(upload.meta.checksum.algorithm);
  if (algorithm) file.set_checksum(*algorithm);
  objects_.append_object(file, source, offset, length);
  StoredChecksum checksum;
  if (algorithm) checksum = StoredChecksum{upload.meta.checksum.algorithm, base64_encode(file.checksum_digest()), {}};
  return commit_part(upload, number, file, now, std::move(checksum));
}

PartRecord MultipartUploads::commit_part(const UploadRecord& upload, int number, DurableFile& file, double now, StoredChecksum checksum) {
  PartRecord part;
  part.checksum = std::move(checksum);
  part.number = number;
  part.size = file.size();
  part.etag = file.md5_hex();
  part.last_modified = now;
  part.file = file.name();
  part.sse = file.sealed_key();
  file.commit();
  std::optional<std::string> replaced;
  try {
    objects_.locked([&] {
      if (!find(upload.bucket, upload.key, upload.upload_id)) throw no_such_upload(upload.upload_id);
      std::string k = part_key(upload.upload_id, number);
      if (auto old = store_.get(store::Keyspace::Meta, k))
        if (auto p = decode_part(k, *old)) replaced = p->file;
      store::WriteBatch batch(store_);
      batch.put(store::Keyspace::Meta, k, encode_part(part));
      store_.write(batch);
    });
  } catch (...) {
    ::unlink(objects_.path_of(part.file).c_str());
    throw;
  }
  if (replaced && *replaced != part.file) ::unlink(objects_.path_of(*replaced).c_str());
  return part;
}

std::vector<PartRecord> MultipartUploads::parts_of(std::string_view upload_id) const {
  std::vector<PartRecord> out;
  std::string lower = part_base(upload_id), upper = record::prefix_successor(lower);
  auto it = store_.iterate(store::Keyspace::Meta, lower, upper);
  for (it->seek(lower); it->valid(); it->next())
    if (auto p = decode_part(it->key(), it->value())) out.push_back(std::move(*p));
  return out;
}

void MultipartUploads::erase_upload(store::WriteBatch& batch, const UploadRecord& upload, std::vector<std::string>& files) const {
  batch.erase(store::Keyspace::Meta, upload_key(upload.bucket, upload.key, upload.upload_id));
  for (const auto& p : parts_of(upload.upload_id)) {
    batch.erase(store::Keyspace::Meta, part_key(upload.upload_id, p.number));
    files.push_back(p.file);
  }
}

ObjectRecord MultipartUploads::complete(const UploadRecord& upload, const std::vector<CompletedPart>& wanted, double now,
                                        const StoredChecksum& expected, const WriteCondition& condition, std::optional<uint64_t> object_size) {
  try {
    return assemble(upload, wanted, now, expected, condition, object_size);
  } catch (const AwsError& e) {
    // S3's answer to a conditional write that lost to a concurrent delete: start over with a
    // new upload. The parts are dropped with this one.
    if (e.code() == "ConditionalRequestConflict") abort(upload.bucket, upload.key, upload.upload_id);
    throw;
  }
}

ObjectRecord MultipartUploads::assemble(const UploadRecord& upload, const std::vector<CompletedPart>& wanted, double now,
                                        const StoredChecksum& expected, const WriteCondition& condition, std::optional<uint64_t> object_size) {
  if (!find(upload.bucket, upload.key, upload.upload_id)) throw no_such_upload(upload.upload_id);
  if (wanted.empty())
    throw AwsError("MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema", 400);
  for (size_t i = 1; i < wanted.size(); ++i)
    if (wanted[i].number <= wanted[i - 1].number)
      throw AwsError("InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.", 400);
  std::map<int, PartRecord> uploaded;
  for (auto& p : parts_of(upload.upload_id)) uploaded.emplace(p.number, std::move(p));
  // The upload's algorithm (given at creation) decides the object's checksum; without one the
  // object gets S3's default, a full-object CRC64NVME.
  const StoredChecksum& declared = upload.meta.checksum;
  const std::optional<ChecksumAlgorithm> algorithm = checksum_algorithm(declared.algorithm);
  const bool composite = algorithm && declared.type == kComposite;
  std::string lower_name(declared.algorithm);
  for (char& c : lower_name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::vector<const PartRecord*> chosen;
  for (const auto& w : wanted) {
    auto it = uploaded.find(w.number);
    if (it == uploaded.end() || record::unquote_etag(w.etag) != it->second.etag) throw invalid_part(upload.upload_id, w.number, record::unquote_etag(w.etag));
    const PartRecord& part = it->second;
    if (algorithm) {
      // A composite checksum is made of the part checksums the client knows: it must list
      // each, as it got them; for a full-object one they are optional but must be right.
      if (w.checksum.empty() && composite)
        throw AwsError("InvalidRequest", "The upload was created using a " + lower_name +
                                             " checksum. The complete request must include the checksum for each part. It was missing for part " +
                                             std::to_string(w.number) + " in the request.",
                       400);
      if (!w.checksum.empty() && (w.checksum.algorithm != declared.algorithm || w.checksum.value != part.checksum.value))
        throw invalid_part(upload.upload_id, w.number, record::unquote_etag(w.etag));
    }
    chosen.push_back(&part);
  }
  for (size_t i = 0; i + 1 < chosen.size(); ++i)
    if (chosen[i]->size < kMinPartSize)
      throw AwsError("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size", 400)
          .with("ProposedSize", std::to_string(chosen[i]->size))
          .with("MinSizeAllowed", std::to_string(kMinPartSize))
          .with("PartNumber", std::to_string(chosen[i]->number))
          .with("ETag", chosen[i]->etag);
  if (object_size) {
    uint64_t total = 0;
    for (const PartRecord* p : chosen) total += p->size;
    if (total != *object_size) throw AwsError("InvalidRequest", "The provided 'x-amz-mp-object-size' header does not match what was computed", 400);
  }
  // Before the parts are streamed into the object (seconds for a large one): a write that
  // cannot succeed fails without that work. The commit checks again under the write lock.
  if (!condition.empty()) {
    auto current = objects_.head(upload.bucket, upload.key);
    check_write_condition(condition, current ? &*current : nullptr, false, upload.key);
  }

  DurableFile file = objects_.new_file();
  if (!composite) file.set_checksum(algorithm.value_or(ChecksumAlgorithm::CRC64NVME));
  std::vector<std::string> digests, part_checksums;
  std::vector<ObjectPart> layout;  // what the object's record keeps of its parts
  layout.reserve(chosen.size());
  for (const PartRecord* p : chosen) {
    try {
      // Each part decrypted with its key and re-encrypted with the object's, 1 MiB at a time.
      auto key = objects_.data_key(p->sse, p->file);
      file.append_file(objects_.path_of(p->file), 0, p->size, key ? &*key : nullptr);
    } catch (const AwsError&) {
      // The part was replaced or the upload ended while we read it.
      if (!find(upload.bucket, upload.key, upload.upload_id)) throw no_such_upload(upload.upload_id);
      throw invalid_part(upload.upload_id, p->number, p->etag);
    }
    digests.push_back(p->etag);
    part_checksums.push_back(p->checksum.value);
    // A part's checksum is kept when it is of the object's algorithm (an upload created
    // without one keeps whatever its parts were sent with: not the object's, not answered).
    layout.push_back(ObjectPart{p->number, p->size, algorithm && p->checksum.algorithm == declared.algorithm ? p->checksum.value : std::string()});
  }
  ObjectRecord record = upload.meta;
  if (composite) {
    record.checksum = StoredChecksum{declared.algorithm, composite_checksum(*algorithm, part_checksums), std::string(kComposite)};
  } else {
    ChecksumAlgorithm a = algorithm.value_or(ChecksumAlgorithm::CRC64NVME);
    record.checksum = StoredChecksum{std::string(checksum_name(a)), base64_encode(file.checksum_digest()), std::string(kFullObject)};
  }
  if (!expected.empty()) {
    // The client's checksum of the object: of the upload's algorithm, and the value computed
    // (a composite one may be given with or without its "-<parts>" suffix).
    if (expected.algorithm != record.checksum.algorithm)
      throw AwsError("InvalidRequest", "The upload was created using the " + (algorithm ? lower_name : std::string("crc64nvme")) +
                                           " checksum algorithm. The complete request must use the same checksum algorithm.", 400);
    std::string_view value = record.checksum.value;
    if (composite && expected.value.find('-') == std::string::npos) value = value.substr(0, value.rfind('-'));
    if (expected.value != value)
      throw AwsError("BadDigest", "The " + record.checksum.algorithm + " you specified did not match the calculated checksum.", 400);
  }
  record.key = upload.key;
  record.size = file.size();
  record.etag = multipart_etag(digests);
  record.last_modified = now;
  record.file = file.name();
  record.sse = file.sealed_key();
  file.commit();
  // Filled by `prepare` under the write lock, read by commit_object after its commit: the part
  // files (including parts uploaded while we assembled) are garbage once the upload is gone.
  std::vector<std::string> stale;
  return objects_.commit_object(
      upload.bucket, std::move(record),
      [&](store::WriteBatch& batch) {
        auto current = find(upload.bucket, upload.key, upload.upload_id);
        if (!current) throw no_such_upload(upload.upload_id);
        erase_upload(batch, *current, stale);
      },
      stale, layout, condition);
}

bool MultipartUploads::abort(std::string_view bucket, std::string_view key, std::string_view upload_id) {
  std::vector<std::string> files;
  bool found = false;
  objects_.locked([&] {
    auto upload = find(bucket, key, upload_id);
    if (!upload) return;
    found = true;
    store::WriteBatch batch(store_);
    erase_upload(batch, *upload, files);
    store_.write(batch);
  });
  for (const auto& f : files) ::unlink(objects_.path_of(f).c_str());
  return found;
}

UploadListResult MultipartUploads::list_uploads(std::string_view bucket, const UploadListQuery& q) const {
  UploadListResult result;
  std::string base = upload_base(bucket);
  std::string lower = base + q.prefix;
  std::string upper = q.prefix.empty() ? upload_end(bucket) : base + record::prefix_successor(q.prefix);
  if (upper.size() <= base.size()) upper = upload_end(bucket);
  auto it = store_.iterate(store::Keyspace::Meta, lower, upper);
  std::string start = lower;
  if (!q.key_marker.empty()) {
    std::string after = base + q.key_marker;
    if (!q.upload_id_marker.empty()) {
      after += '\0';
      after += q.upload_id_marker;
      after += '\0';  // strictly after that upload of that key
    } else {
      after += '\1';  // every upload of a greater key: "<key>\0<id>" sorts before "<key>\1"
    }
    if (after > start) start = after;
  }
  if (q.max_uploads <= 0) return result;
  auto full = [&] { return static_cast<int>(result.entries.size()) == q.max_uploads; };
  it->seek(start);
  while (it->valid()) {
    std::string_view rest = it->key().substr(base.size());
    size_t nul = rest.rfind('\0');
    if (nul == std::string_view::npos) {
      it->next();
      continue;
    }
    std::string_view key = rest.substr(0, nul);
    if (!q.delimiter.empty()) {
      size_t d = key.find(q.delimiter, q.prefix.size());
      if (d != std::string_view::npos) {
        std::string common(key.substr(0, d + q.delimiter.size()));
        // A prefix the key marker lies within was returned on an earlier page.
        if (q.key_marker.empty() || !(q.key_marker >= common && q.key_marker.compare(0, common.size(), common) == 0)) {
          if (full()) {
            result.truncated = true;
            break;
          }
          UploadListEntry e;
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
    if (full()) {
      result.truncated = true;
      break;
    }
    if (auto u = decode_upload(it->key(), it->value())) {
      UploadListEntry e;
      e.upload = std::move(*u);
      result.entries.push_back(std::move(e));
    }
    it->next();
  }
  if (result.truncated && !result.entries.empty()) {
    const auto& last = result.entries.back();
    result.next_key_marker = last.is_prefix ? last.prefix : last.upload.key;
    if (!last.is_prefix) result.next_upload_id_marker = last.upload.upload_id;
  }
  return result;
}

PartListResult MultipartUploads::list_parts(const UploadRecord& upload, int after, int max_parts) const {
  PartListResult result;
  if (max_parts <= 0) return result;
  std::string lower = part_base(upload.upload_id), upper = record::prefix_successor(lower);
  auto it = store_.iterate(store::Keyspace::Meta, lower, upper);
  it->seek(after >= kMaxPartNumber ? upper : part_key(upload.upload_id, std::max(after, 0) + 1));
  for (; it->valid(); it->next()) {
    if (static_cast<int>(result.parts.size()) == max_parts) {
      result.truncated = true;
      break;
    }
    if (auto p = decode_part(it->key(), it->value())) result.parts.push_back(std::move(*p));
  }
  if (result.truncated) result.next_marker = result.parts.back().number;
  return result;
}

}  // namespace vigil::s3
