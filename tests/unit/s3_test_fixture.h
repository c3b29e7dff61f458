// A store, an object store and the multipart model over a scratch directory, reopenable (to
// test what survives a restart). S3 unit tests derive from it.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "core/aws_error.h"
#include "services/s3/multipart.h"
#include "services/s3/object_store.h"
#include "store/store.h"
#include "temp_dir.h"

namespace vigil::s3 {

// The AwsError code f() throws, or "none".
template <typename F>
std::string error_code(F&& f) {
  try {
    f();
  } catch (const AwsError& e) {
    return e.code();
  }
  return "none";
}

class S3StoreFixture : public ::testing::Test {
 protected:
  // Opens the models over a new directory with one bucket, owned by `owner`.
  void set_up(const std::string& prefix, const std::string& bucket, const std::string& owner) {
    dir_ = vigil::testing::make_temp_dir(prefix);
    open();
    objects_->create_bucket(BucketRecord{bucket, owner, "us-east-1", 1});
  }
  void TearDown() override {
    close();
    std::filesystem::remove_all(dir_);
  }
  void close() {
    uploads_.reset();
    objects_.reset();
    store_.reset();
  }
  void open() {
    close();
    store_ = store::Store::open(dir_ + "/db");
    objects_ = std::make_unique<ObjectStore>(*store_, dir_ + "/s3");
    uploads_ = std::make_unique<MultipartUploads>(*store_, *objects_);
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ObjectStore> objects_;
  std::unique_ptr<MultipartUploads> uploads_;
};

}  // namespace vigil::s3
