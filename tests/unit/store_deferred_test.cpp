// Durability::Deferred: batches queued for the store's background writer, which writes them as
// one RocksDB write per group.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/encoding.h"
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

TEST(StoreDeferred, KeysWithALongCommonPrefixKeepLastWinsAcrossEqualHeadsAndShortKeys) {
  // The group sort compares the 8 bytes after a keyspace's common prefix as a number: keys that
  // differ only beyond those bytes, keys that are prefixes of others and keys ending in zero
  // bytes must still sort as bytes do, and equal keys keep their queue order.
  TempDir dir;
  auto store = Store::open(dir.path);
  const std::string scope = std::string("000000000000") + '\0' + "us-east-1" + '\0';
  const std::vector<std::string> keys = {scope + "12345678" + "tail-b", scope + "12345678" + "tail-a", scope + "12345678",
                                         scope + "1234",                scope + "1234" + std::string(1, '\0'), scope,
                                         scope + "12345679"};
  std::mt19937 random(7);
  std::vector<std::string> last(keys.size());
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 200; ++i) {
      const size_t k = random() % keys.size();
      last[k] = std::to_string(round) + "/" + std::to_string(i);
      WriteBatch batch(*store);
      batch.put(Keyspace::Audit, keys[k], last[k]);
      store->write(batch, Durability::Deferred);
    }
    store->wait_for_deferred();
    for (size_t k = 0; k < keys.size(); ++k) EXPECT_EQ(store->get(Keyspace::Audit, keys[k]).value_or("<none>"), last[k]) << k;
  }
  EXPECT_EQ(count(*store, Keyspace::Audit), keys.size());
}

TEST(StoreDeferred, ABatchBuiltForDeferredKeepsItsOrderWhateverItsDurability) {
  // A deferred batch keeps its puts in the queue's format; an erase after them, or a write that
  // is not Deferred, must still apply them first and in order.
  TempDir dir;
  auto store = Store::open(dir.path);
  WriteBatch queued(*store, /*deferred=*/true);
  queued.put(Keyspace::Audit, "a", "1");
  queued.put(Keyspace::Meta, "b", "2");
  EXPECT_FALSE(queued.empty());
  EXPECT_GT(queued.size_bytes(), 4u);
  store->write(queued, Durability::Deferred);
  EXPECT_TRUE(queued.empty());
  store->wait_for_deferred();
  EXPECT_EQ(store->get(Keyspace::Audit, "a"), "1");
  EXPECT_EQ(store->get(Keyspace::Meta, "b"), "2");

  WriteBatch mixed(*store, /*deferred=*/true);
  mixed.put(Keyspace::Meta, "c", "3");
  mixed.put(Keyspace::Meta, "d", "4");
  mixed.erase(Keyspace::Meta, "c");  // after the put of c: c ends up absent
  mixed.put(Keyspace::Meta, "c", "5");
  mixed.erase(Keyspace::Meta, "d");
  store->write(mixed, Durability::Deferred);
  EXPECT_EQ(store->get(Keyspace::Meta, "c"), "5");
  EXPECT_FALSE(store->get(Keyspace::Meta, "d"));

  WriteBatch synced(*store, /*deferred=*/true);
  synced.put(Keyspace::Meta, "e", "6");
  store->write(synced, Durability::Sync);
  EXPECT_EQ(store->get(Keyspace::Meta, "e"), "6");
}

TEST(StoreDeferred, ABatchWithMoreThanPutsIsWrittenAfterWhatIsQueued) {
  TempDir dir;
  auto store = Store::open(dir.path);
  WriteBatch put(*store);
  put.put(Keyspace::Meta, "k", "queued");
  put.put(Keyspace::Meta, "other", "kept");
  store->write(put, Durability::Deferred);
  EXPECT_TRUE(put.empty());  // copied into the queue; the caller's batch is reusable
  WriteBatch erase(*store);
  erase.erase(Keyspace::Meta, "k");
  store->write(erase, Durability::Deferred);  // not deferred: would overtake the put
  EXPECT_FALSE(store->get(Keyspace::Meta, "k"));
  EXPECT_EQ(store->get(Keyspace::Meta, "other"), "kept");
  // A reused batch carries only what was added since.
  put.put(Keyspace::Meta, "again", "1");
  store->write(put, Durability::Deferred);
  store->wait_for_deferred();
  EXPECT_EQ(store->get(Keyspace::Meta, "again"), "1");
  EXPECT_FALSE(store->get(Keyspace::Meta, "k"));
}

TEST(StoreDeferred, TheQueueBoundCountsWhatWasQueuedExactly) {
  // The writer gives back exactly the bytes write() counted: any drift would, after enough
  // calls, hold the count above kMaxDeferredBytes and block every deferred write forever.
  TempDir dir;
  auto store = Store::open(dir.path);
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 500; ++i) {
      WriteBatch batch(*store);
      batch.put(Keyspace::Audit, "r" + std::to_string(round * 1000 + i), std::string(100 + i % 7, 'x'));
      batch.add_posting(Keyspace::AuditIndex, "list:" + std::to_string(i % 3), "item" + std::to_string(round * 1000 + i), 4);
      store->write(batch, Durability::Deferred);
    }
    store->wait_for_deferred();
    EXPECT_EQ(store->queued_deferred_bytes(), 0);
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

// Every item of every pack of a list, in key order, and how many packs held them.
std::vector<std::string> items_of(Store& store, const std::string& list, size_t* packs = nullptr) {
  std::vector<std::string> out;
  std::vector<std::string_view> items;
  size_t n = 0;
  auto it = store.iterate(Keyspace::AuditIndex, list, list + "\xff");
  for (it->seek(list); it->valid(); it->next()) {
    EXPECT_TRUE(vigil::store::decode_pack(it->value(), items));
    EXPECT_EQ(it->key().substr(list.size()), items.front());  // keyed by its first item
    for (auto item : items) out.emplace_back(item);
    ++n;
  }
  if (packs) *packs = n;
  return out;
}

TEST(StorePostings, DeferredPostingsOfOneGroupShareAPackPerListAndPrefix) {
  TempDir dir;
  auto store = Store::open(dir.path);
  constexpr int kThreads = 4, kPerThread = 3000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        WriteBatch batch(*store);
        batch.put(Keyspace::Audit, key_of(t, i), "record");
        // Two lists; items share their first 3 bytes ("w" and the hundreds) with their window.
        const std::string item = "w" + std::to_string(100 + i / 100) + key_of(t, i);
        batch.add_posting(Keyspace::AuditIndex, i % 2 ? "odd:" : "even:", item, 4);
        store->write(batch, Durability::Deferred);
      }
    });
  for (auto& th : threads) th.join();
  store->wait_for_deferred();
  size_t packs = 0;
  std::vector<std::string> odd = items_of(*store, "odd:", &packs);
  ASSERT_EQ(odd.size(), static_cast<size_t>(kThreads * kPerThread / 2));
  EXPECT_LT(packs, odd.size());  // packed: fewer keys than items
  // Within a pack items are sorted and share the window; a window's items sorted are all of them.
  std::sort(odd.begin(), odd.end());
  EXPECT_EQ(std::adjacent_find(odd.begin(), odd.end()), odd.end());  // each item once
  for (int t = 0; t < kThreads; ++t)
    for (int i = 1; i < kPerThread; i += 2)
      ASSERT_TRUE(std::binary_search(odd.begin(), odd.end(), "w" + std::to_string(100 + i / 100) + key_of(t, i)));
  EXPECT_EQ(items_of(*store, "even:").size(), static_cast<size_t>(kThreads * kPerThread / 2));
  // A pack never mixes windows.
  std::vector<std::string_view> items;
  auto it = store->iterate(Keyspace::AuditIndex);
  for (it->seek_to_first(); it->valid(); it->next()) {
    ASSERT_TRUE(vigil::store::decode_pack(it->value(), items));
    EXPECT_LE(items.size(), vigil::store::kMaxPackItems);
    for (auto item : items) {
      EXPECT_EQ(item.substr(0, 4), items.front().substr(0, 4));
      EXPECT_GE(item, items.front());
    }
  }
}

TEST(StorePostings, ASyncedBatchPacksOnlyItsOwnPostings) {
  TempDir dir;
  auto store = Store::open(dir.path);
  WriteBatch batch(*store);
  for (std::string item : {"a2", "a1", "b1", "a3"}) batch.add_posting(Keyspace::AuditIndex, "l:", item, 1);
  EXPECT_FALSE(batch.empty());
  store->write(batch);
  size_t packs = 0;
  EXPECT_EQ(items_of(*store, "l:", &packs), (std::vector<std::string>{"a1", "a2", "a3", "b1"}));
  EXPECT_EQ(packs, 2u);  // one per shared first byte
  EXPECT_EQ(store->get(Keyspace::AuditIndex, "l:a1").value().size(), 9u);  // 3 x (length, 2 bytes)
}

TEST(StorePostings, DecodePackRejectsWhatIsNotAPack) {
  std::vector<std::string_view> items;
  EXPECT_FALSE(vigil::store::decode_pack("", items));
  EXPECT_FALSE(vigil::store::decode_pack("\x05" "abc", items));          // longer than the value
  EXPECT_FALSE(vigil::store::decode_pack("\x80\x80\x80\x80\x80\x01", items));  // length too long
  const std::string pack("\x02" "ab" "\x00\x01" "c", 6);
  ASSERT_TRUE(vigil::store::decode_pack(pack, items));
  EXPECT_EQ(items, (std::vector<std::string_view>{"ab", "", "c"}));
}

// The writer sorts keys and posting items with bytes_less (8 bytes at a time): it must be
// exactly std::string_view's byte order, bytes above 0x7F included, whatever the lengths.
TEST(StorePostings, BytesLessIsStringViewByteOrder) {
  std::mt19937 random(7);
  const std::string alphabet("\x00\x01\x7f\x80\xfe\xff" "az", 8);
  std::vector<std::string> keys;
  for (int i = 0; i < 400; ++i) {
    // Shared prefixes of every length around the 8-byte words, then a short random tail.
    std::string key(static_cast<size_t>(random() % 20), 'p');
    for (size_t n = random() % 12; n > 0; --n) key += alphabet[random() % alphabet.size()];
    keys.push_back(key);
  }
  for (const auto& a : keys)
    for (const auto& b : keys) ASSERT_EQ(vigil::bytes_less(a, b), std::string_view(a) < std::string_view(b)) << a << " / " << b;
}

}  // namespace
