// Durability::Deferred: batches queued for the store's background writer, which writes them as
// one RocksDB write per group.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "temp_dir.h"

namespace {

using vigil::store::Durability;
using vigil::store::Keyspace;
using vigil::store::Store;
using vigil::store::WriteBatch;

using vigil::testing::TempDir;

std::string key_of(int thread, int i) { return "t" + std::to_string(thread) + ":" + std::to_string(100000 + i); }

size_t count(Store& store, Keyspace space) {
  size_t n = 0;
  auto it = store.iterate(space);
  for (it->seek_to_first(); it->valid(); it->next()) ++n;
  return n;
}

TEST(StoreDeferred, ConcurrentWritersAreAllVisibleAfterWaitForDeferred) {
  TempDir dir;
  auto store = Store::open(dir.path);
  constexpr int kThreads = 8, kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        WriteBatch batch(*store);
        batch.put(Keyspace::Audit, key_of(t, i), "record " + std::to_string(i));
        batch.put(Keyspace::AuditIndex, "index:" + key_of(t, i), "");
        store->write(batch, Durability::Deferred);
        EXPECT_TRUE(batch.empty());  // moved to the queue, left reusable
      }
    });
  for (auto& th : threads) th.join();
  store->wait_for_deferred();
  EXPECT_EQ(count(*store, Keyspace::Audit), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(count(*store, Keyspace::AuditIndex), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(store->get(Keyspace::Audit, key_of(3, 1234)), "record 1234");
}

TEST(StoreDeferred, TheLastQueuedValueOfAKeyWinsWithinAGroup) {
  TempDir dir;
  auto store = Store::open(dir.path);
  // Sorting a group by key must keep the queue order of equal keys.
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 100; ++i) {
      WriteBatch batch(*store);
      batch.put(Keyspace::Meta, "k" + std::to_string(i % 7), std::to_string(round * 100 + i));
      store->write(batch, Durability::Deferred);
    }
    store->wait_for_deferred();
    for (int k = 0; k < 7; ++k) {
      int last = 0;
      for (int i = 0; i < 100; ++i)
        if (i % 7 == k) last = round * 100 + i;
      EXPECT_EQ(store->get(Keyspace::Meta, "k" + std::to_string(k)), std::to_string(last));
    }
  }
}

TEST(StoreDeferred, ClosingTheStoreWritesWhatIsQueued) {
  TempDir dir;
  {
    auto store = Store::open(dir.path);
    for (int i = 0; i < 5000; ++i) {
      WriteBatch batch(*store);
      batch.put(Keyspace::Audit, key_of(0, i), std::string(100, 'x'));
      store->write(batch, Durability::Deferred);
    }
  }  // no wait: the destructor drains the queue
  auto store = Store::open(dir.path);
  EXPECT_EQ(count(*store, Keyspace::Audit), 5000u);
}

TEST(StoreDeferred, ABurstLargerThanTheQueueBoundCompletesAndArrivesWhole) {
  TempDir dir;
  auto store = Store::open(dir.path);
  // 40 MB through a queue bounded at 8 MB: completes (writers wait for the writer thread),
  // and every byte arrives.
  const std::string value(64 * 1024, 'v');
  for (int i = 0; i < 640; ++i) {
    WriteBatch batch(*store);
    batch.put(Keyspace::Audit, key_of(1, i), value);
    store->write(batch, Durability::Deferred);
  }
  store->wait_for_deferred();
  EXPECT_EQ(count(*store, Keyspace::Audit), 640u);
}

}  // namespace
