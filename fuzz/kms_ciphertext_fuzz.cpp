// libFuzzer: arbitrary bytes as a KMS ciphertext blob (Decrypt) and encryption context, for a
// store holding one key. The first byte splits the input: blob, then context pairs separated
// by NUL. Decrypt must answer InvalidCiphertextException (or, for a blob naming another key,
// NotFound/Incorrect key errors), never crash; whatever decrypts must have been encrypted
// by Encrypt (a forged blob must not authenticate). Must never crash, hang or leak.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "core/aws_error.h"
#include "core/clock.h"
#include "services/kms/keys.h"
#include "services/s3/sse.h"
#include "store/store.h"

namespace {

using namespace vigil;

struct Fixture {
  std::string dir;
  ManualClock clock;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<s3::MasterKey> master;
  std::unique_ptr<kms::KeyStore> keys;
  std::string key_id;
  Fixture() {
    char templ[] = "/tmp/vigil-kms-fuzz-XXXXXX";
    dir = ::mkdtemp(templ);
    store = store::Store::open(dir + "/db");
    master = std::make_unique<s3::MasterKey>(s3::MasterKey::load_or_create(dir + "/master-key"));
    keys = std::make_unique<kms::KeyStore>(*store, clock, *master);
    Value in = Value::map();
    key_id = std::string(keys->create_key("111122223333", "us-east-1", in).get("KeyMetadata")->str("KeyId"));
  }
  ~Fixture() {
    keys.reset();
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fx;
  if (size < 1 || size > 8192) return 0;
  const size_t blob_size = std::min<size_t>(data[0] * 4u, size - 1);
  std::string blob(reinterpret_cast<const char*>(data) + 1, blob_size);
  std::string rest(reinterpret_cast<const char*>(data) + 1 + blob_size, size - 1 - blob_size);
  Value context = Value::map();
  for (size_t pos = 0; pos < rest.size();) {
    size_t nul = rest.find('\0', pos);
    std::string pair = rest.substr(pos, nul == std::string::npos ? std::string::npos : nul - pos);
    size_t eq = pair.find('=');
    context.set(pair.substr(0, eq), eq == std::string::npos ? std::string() : pair.substr(eq + 1));
    if (nul == std::string::npos) break;
    pos = nul + 1;
  }
  Value in = Value::map();
  in.set("CiphertextBlob", Blob{blob});
  if (context.size() > 0) in.set("EncryptionContext", context);
  try {
    fx.keys->decrypt("111122223333", "us-east-1", in);
    std::abort();  // a blob nobody encrypted authenticated
  } catch (const AwsError& e) {
    if (e.http_status() >= 500) std::abort();
  }
  // A real blob of the same plaintext under this context round-trips.
  Value enc = Value::map();
  enc.set("KeyId", fx.key_id);
  enc.set("Plaintext", Blob{blob.empty() ? std::string("x") : blob.substr(0, 4096)});
  if (context.size() > 0) enc.set("EncryptionContext", context);
  Value sealed = fx.keys->encrypt("111122223333", "us-east-1", enc);
  Value dec = Value::map();
  dec.set("CiphertextBlob", *sealed.get("CiphertextBlob"));
  if (context.size() > 0) dec.set("EncryptionContext", context);
  if (!(fx.keys->decrypt("111122223333", "us-east-1", dec).get("Plaintext")->as_blob() == enc.get("Plaintext")->as_blob())) std::abort();
  return 0;
}
