// Tests for the agent's SQLite state: schema creation and version checks, folder ids, the three kinds of
// change and their round trip through load_folder, atomic batches, and refusal of unusable files.
#include "state_store.h"

#include "sandbox.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace minisync::agent {
namespace {

using StorePtr = std::unique_ptr<StateStore>;

// The value of a Result the test expects to hold one; otherwise the test fails with the error's message
// and goes on with an empty value.
template <typename T>
T value_of(Result<T> result)
{
    if (!result.ok()) {
        ADD_FAILURE() << result.error().message;
        return T{};
    }
    return std::move(result).value();
}

::testing::AssertionResult succeeded(const Result<void>& result)
{
    if (result.ok()) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << result.error().message;
}

Sha256Digest digest_of(const std::string& text)
{
    return sha256_of(text);
}

StateChange committed(std::int64_t folder, std::string path, FileVersion version, std::uint32_t mode,
                      const Sha256Digest& sha256)
{
    StateChange change;
    change.kind = StateChange::Kind::Committed;
    change.folder_id = folder;
    change.path = std::move(path);
    change.version = version;
    change.mode = mode;
    change.sha256 = sha256;
    return change;
}

StateChange progress(std::int64_t folder, std::string path, FileVersion version, std::uint64_t offset)
{
    StateChange change;
    change.kind = StateChange::Kind::Progress;
    change.folder_id = folder;
    change.path = std::move(path);
    change.version = version;
    change.offset = offset;
    return change;
}

StateChange forgotten(std::int64_t folder, std::string path)
{
    StateChange change;
    change.kind = StateChange::Kind::Forgotten;
    change.folder_id = folder;
    change.path = std::move(path);
    return change;
}

// Reads one integer (or text) from a PRAGMA through a connection of the test's own.
class RawDb {
public:
    explicit RawDb(const std::string& path)
    {
        sqlite3* raw = nullptr;
        rc_ = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
        db_.reset(raw);
    }

    [[nodiscard]] bool ok() const { return rc_ == SQLITE_OK; }

    bool exec(const std::string& sql)
    {
        return sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
    }

    std::optional<std::string> text(const std::string& sql)
    {
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
            return std::nullopt;
        }
        const SqliteStmtPtr owned{stmt};
        if (sqlite3_step(stmt) != SQLITE_ROW) {
            return std::nullopt;
        }
        const unsigned char* value = sqlite3_column_text(stmt, 0);
        return value == nullptr ? std::string{} : std::string{reinterpret_cast<const char*>(value)};
    }

private:
    SqlitePtr db_;
    int rc_ = SQLITE_ERROR;
};

class StateStoreTest : public test::SandboxedTest {
protected:
    [[nodiscard]] std::string db_path() const { return (sandbox() / "state.db").string(); }

    // Opens db_path() and fails the test (returning null) when the store refuses.
    StorePtr open_store()
    {
        auto result = StateStore::open(db_path());
        if (!result.ok()) {
            ADD_FAILURE() << "open failed: " << result.error().message;
            return nullptr;
        }
        return std::move(result).value();
    }

    // Opens path and returns the error, or fails the test when the store accepted it.
    static Error open_failure(const std::string& path)
    {
        auto result = StateStore::open(path);
        if (result.ok()) {
            ADD_FAILURE() << "open of '" << path << "' unexpectedly succeeded";
            return {};
        }
        return result.error();
    }
    static std::string open_error(const std::string& path) { return open_failure(path).message; }
};

// Paths are BLOBs: bytes that are not UTF-8, newlines, tabs and quotes must come back unchanged.
const std::vector<std::string>& awkward_paths()
{
    static const std::vector<std::string> paths = {
        "plain.txt",
        "dir/sub dir/file with spaces",
        "latin1-\xe9t\xe9.txt",
        "\xff\xfe\x80\x81 invalid utf-8",
        "line one\nline two\r\n",
        "tab\there/'quote\"s'",
        "\xc3\x28 overlong-ish/\xed\xa0\x80 surrogate",
    };
    return paths;
}

TEST_F(StateStoreTest, CreatesTheLatestSchemaInWalMode)
{
    ASSERT_NE(open_store(), nullptr);
    RawDb raw{db_path()};
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ(raw.text("PRAGMA user_version"), std::optional<std::string>{"3"});
    EXPECT_EQ(raw.text("PRAGMA journal_mode"), std::optional<std::string>{"wal"});
    EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('folders', 'files')"),
              std::optional<std::string>{"2"});
}

TEST_F(StateStoreTest, ReopeningAnExistingDatabaseKeepsTheSchema)
{
    ASSERT_NE(open_store(), nullptr);
    // A second open must not try to create the tables again.
    StorePtr again = open_store();
    ASSERT_NE(again, nullptr);
    RawDb raw{db_path()};
    EXPECT_EQ(raw.text("PRAGMA user_version"), std::optional<std::string>{"3"});
}

TEST_F(StateStoreTest, VersionOneDatabaseIsUpgradedKeepingItsRecords)
{
    {
        RawDb raw{db_path()};
        ASSERT_TRUE(raw.ok());
        ASSERT_TRUE(raw.exec("CREATE TABLE folders (id INTEGER PRIMARY KEY, name BLOB NOT NULL UNIQUE);"
                             "CREATE TABLE files (folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,"
                             " path BLOB NOT NULL, size INTEGER, mtime_ns INTEGER, inode INTEGER,"
                             " mode INTEGER NOT NULL DEFAULT 0, sha256 BLOB, upload_size INTEGER,"
                             " upload_mtime_ns INTEGER, upload_inode INTEGER, upload_offset INTEGER NOT NULL DEFAULT 0,"
                             " PRIMARY KEY (folder_id, path)) WITHOUT ROWID;"
                             "INSERT INTO folders(id, name) VALUES (1, CAST('f' AS BLOB));"
                             "INSERT INTO files(folder_id, path, size, mtime_ns, inode, mode) "
                             "VALUES (1, CAST('a.txt' AS BLOB), 3, 4, 5, 420);"
                             "PRAGMA user_version = 1;"));
    }
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const FolderRecords records = value_of(store->load_folder(value_of(store->folder_id("f"))));
    ASSERT_TRUE(records.contains("a.txt"));
    EXPECT_EQ(records.at("a.txt").kind, EntryKind::File);
    EXPECT_EQ(records.at("a.txt").committed, (FileVersion{3, 4, 5}));
    // No root was recorded before schema 3: the next start records the one it finds.
    EXPECT_EQ(value_of(store->root_identity(value_of(store->folder_id("f")))), std::nullopt);
    RawDb raw{db_path()};
    EXPECT_EQ(raw.text("PRAGMA user_version"), std::optional<std::string>{"3"});
}

TEST_F(StateStoreTest, AFoldersRootIdentityIsRecordedAndKeptAcrossReopens)
{
    std::int64_t photos = 0;
    {
        StorePtr store = open_store();
        ASSERT_NE(store, nullptr);
        const StoredFolder first = value_of(store->open_folder("photos"));
        EXPECT_EQ(first.root, std::nullopt);
        photos = first.id;
        // Device and inode numbers use all 64 bits; SQLite's integers are signed.
        const RootIdentity identity{static_cast<dev_t>(~0ULL - 5), static_cast<ino_t>(1ULL << 63),
                                    1'796'612'440'736'709'401};
        ASSERT_TRUE(store->set_root_identity(photos, identity).ok());
        ASSERT_TRUE(store->set_root_identity(value_of(store->folder_id("docs")), RootIdentity{7, 8}).ok());
    }
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const StoredFolder again = value_of(store->open_folder("photos"));
    EXPECT_EQ(again.id, photos);
    EXPECT_EQ(again.root, (RootIdentity{static_cast<dev_t>(~0ULL - 5), static_cast<ino_t>(1ULL << 63),
                                        1'796'612'440'736'709'401}));
    EXPECT_EQ(value_of(store->open_folder("docs")).root, (RootIdentity{7, 8}));
}

TEST_F(StateStoreTest, ForgettingAFolderDropsItsRecordsAndNoOtherFolders)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const std::int64_t photos = value_of(store->folder_id("photos"));
    const std::int64_t docs = value_of(store->folder_id("docs"));
    ASSERT_TRUE(store->apply({committed(photos, "a", FileVersion{1, 2, 3}, 0644, Sha256Digest{}),
                              committed(photos, "b/c", FileVersion{1, 2, 4}, 0644, Sha256Digest{}),
                              committed(docs, "a", FileVersion{1, 2, 5}, 0644, Sha256Digest{})})
                    .ok());
    StateChange forget;
    forget.kind = StateChange::Kind::ForgottenFolder;
    forget.folder_id = photos;
    ASSERT_TRUE(store->apply({forget}).ok());
    EXPECT_TRUE(value_of(store->load_folder(photos)).empty());
    EXPECT_EQ(value_of(store->load_folder(docs)).size(), 1U);
}

TEST_F(StateStoreTest, DirectoriesAndSymlinksAreRecordedByKind)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const std::int64_t folder = value_of(store->folder_id("f"));
    StateChange dir = committed(folder, "d", FileVersion{0, 10, 1}, 0755, Sha256Digest{});
    dir.entry = EntryKind::Directory;
    StateChange link = committed(folder, "d/l", FileVersion{7, 11, 2}, 0, Sha256Digest{});
    link.entry = EntryKind::Symlink;
    ASSERT_TRUE(succeeded(store->apply({dir, link, committed(folder, "d/f", FileVersion{1, 12, 3}, 0644, digest_of("x"))})));
    const FolderRecords records = value_of(store->load_folder(folder));
    ASSERT_EQ(records.size(), 3U);
    EXPECT_EQ(records.at("d").kind, EntryKind::Directory);
    EXPECT_EQ(records.at("d").mode, 0755U);
    EXPECT_FALSE(records.at("d").sha256.has_value());
    EXPECT_EQ(records.at("d/l").kind, EntryKind::Symlink);
    EXPECT_EQ(records.at("d/l").committed, (FileVersion{7, 11, 2}));
    EXPECT_EQ(records.at("d/f").kind, EntryKind::File);
    EXPECT_EQ(records.at("d/f").sha256, digest_of("x"));
}

TEST_F(StateStoreTest, LoadSubtreeReturnsThePathAndWhatIsBelowIt)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const std::int64_t folder = value_of(store->folder_id("f"));
    const Sha256Digest digest = digest_of("x");
    ASSERT_TRUE(succeeded(store->apply({committed(folder, "d", FileVersion{1, 1, 1}, 0, digest),
                            committed(folder, "d/a", FileVersion{1, 1, 2}, 0, digest),
                            committed(folder, "d/sub/b", FileVersion{1, 1, 3}, 0, digest),
                            committed(folder, "d0", FileVersion{1, 1, 4}, 0, digest),
                            committed(folder, "d.txt", FileVersion{1, 1, 5}, 0, digest)})));
    const FolderRecords subtree = value_of(store->load_subtree(folder, "d"));
    EXPECT_EQ(subtree.size(), 3U);
    EXPECT_TRUE(subtree.contains("d"));
    EXPECT_TRUE(subtree.contains("d/a"));
    EXPECT_TRUE(subtree.contains("d/sub/b"));
    EXPECT_EQ(value_of(store->load_subtree(folder, "d.txt")).size(), 1U);
    EXPECT_TRUE(value_of(store->load_subtree(folder, "nothing")).empty());
}

StateChange renamed(std::int64_t folder, std::string from, std::string to)
{
    StateChange change;
    change.kind = StateChange::Kind::Renamed;
    change.folder_id = folder;
    change.from = std::move(from);
    change.path = std::move(to);
    return change;
}

TEST_F(StateStoreTest, RenamedMovesTheRecordsBelowTheNewPathAndReplacesWhatWasThere)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const std::int64_t folder = value_of(store->folder_id("f"));
    const std::string odd = "\xff\xfe dir\n";
    ASSERT_TRUE(succeeded(store->apply({committed(folder, odd, FileVersion{0, 1, 1}, 0755, Sha256Digest{}),
                            committed(folder, odd + "/a", FileVersion{1, 1, 2}, 0644, digest_of("a")),
                            committed(folder, odd + "/sub/b", FileVersion{1, 1, 3}, 0644, digest_of("b")),
                            committed(folder, odd + "0", FileVersion{1, 1, 4}, 0644, digest_of("sibling")),
                            committed(folder, "new/old-file", FileVersion{1, 1, 5}, 0644, digest_of("replaced")),
                            progress(folder, odd + "/big", FileVersion{100, 1, 6}, 50)})));
    ASSERT_TRUE(succeeded(store->apply({renamed(folder, odd, "new")})));
    const FolderRecords records = value_of(store->load_folder(folder));
    EXPECT_EQ(records.size(), 5U);
    EXPECT_TRUE(records.contains("new"));
    ASSERT_TRUE(records.contains("new/a"));
    EXPECT_EQ(records.at("new/a").sha256, digest_of("a"));
    EXPECT_TRUE(records.contains("new/sub/b"));
    ASSERT_TRUE(records.contains("new/big"));
    EXPECT_EQ(records.at("new/big").confirmed_offset, 50U);
    EXPECT_TRUE(records.contains(odd + "0"));
    EXPECT_FALSE(records.contains("new/old-file"));
    // The moved paths are still found as BLOBs by later changes.
    ASSERT_TRUE(succeeded(store->apply({forgotten(folder, "new/a")})));
    EXPECT_FALSE(value_of(store->load_folder(folder)).contains("new/a"));
    EXPECT_EQ(value_of(store->load_subtree(folder, "new")).size(), 3U);
}

TEST_F(StateStoreTest, FolderIdIsStableAndDistinctPerName)
{
    std::int64_t photos = 0;
    std::int64_t docs = 0;
    std::int64_t binary = 0;
    {
        StorePtr store = open_store();
        ASSERT_NE(store, nullptr);
        photos = value_of(store->folder_id("photos"));
        docs = value_of(store->folder_id("docs"));
        binary = value_of(store->folder_id(std::string{"bin\xff\n\0x", 7}));
        EXPECT_NE(photos, 0);
        EXPECT_NE(docs, 0);
        EXPECT_NE(binary, 0);
        EXPECT_NE(photos, docs);
        EXPECT_NE(binary, photos);
        EXPECT_NE(binary, docs);
        EXPECT_EQ(value_of(store->folder_id("photos")), photos);
        EXPECT_EQ(value_of(store->folder_id("docs")), docs);
        // Names are compared as bytes: a prefix or a different case is another folder.
        EXPECT_NE(value_of(store->folder_id("Photos")), photos);
        EXPECT_NE(value_of(store->folder_id(std::string{"bin\xff\n", 5})), binary);
    }
    StorePtr reopened = open_store();
    ASSERT_NE(reopened, nullptr);
    EXPECT_EQ(value_of(reopened->folder_id("docs")), docs);
    EXPECT_EQ(value_of(reopened->folder_id("photos")), photos);
    EXPECT_EQ(value_of(reopened->folder_id(std::string{"bin\xff\n\0x", 7})), binary);
}

TEST_F(StateStoreTest, CommittedRoundTripWithBinaryPaths)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const std::int64_t folder = value_of(store->folder_id("f"));
    EXPECT_TRUE(value_of(store->load_folder(folder)).empty());

    std::vector<StateChange> changes;
    std::uint64_t n = 0;
    for (const std::string& path : awkward_paths()) {
        ++n;
        changes.push_back(committed(folder, path, FileVersion{n * 1000, -static_cast<std::int64_t>(n) * 7, n + 40},
                                    0100600 + static_cast<std::uint32_t>(n), digest_of(path)));
    }
    ASSERT_TRUE(succeeded(store->apply(changes)));

    const FolderRecords records = value_of(store->load_folder(folder));
    ASSERT_EQ(records.size(), awkward_paths().size());
    for (const StateChange& change : changes) {
        const auto it = records.find(change.path);
        ASSERT_NE(it, records.end()) << "missing path " << testing::PrintToString(change.path);
        const FileRecord& record = it->second;
        EXPECT_EQ(record.committed, std::optional<FileVersion>{change.version});
        EXPECT_EQ(record.mode, change.mode);
        EXPECT_EQ(record.sha256, std::optional<Sha256Digest>{change.sha256});
        EXPECT_EQ(record.uploading, std::nullopt);
        EXPECT_EQ(record.confirmed_offset, 0U);
    }
}

TEST_F(StateStoreTest, ExtremeNumbersSurviveTheRoundTrip)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const std::int64_t folder = value_of(store->folder_id("f"));
    const FileVersion big{0xffffffffffffffffULL, std::numeric_limits<std::int64_t>::min(), 0xfedcba9876543210ULL};
    const FileVersion other{0x8000000000000000ULL, std::numeric_limits<std::int64_t>::max(), 1};
    ASSERT_TRUE(succeeded(store->apply({committed(folder, "a", big, 0xffffffffU, digest_of("a")),
                            progress(folder, "b", other, 0xfffffffffffffff0ULL)})));
    const FolderRecords records = value_of(store->load_folder(folder));
    ASSERT_EQ(records.size(), 2U);
    EXPECT_EQ(records.at("a").committed, std::optional<FileVersion>{big});
    EXPECT_EQ(records.at("a").mode, 0xffffffffU);
    EXPECT_EQ(records.at("b").uploading, std::optional<FileVersion>{other});
    EXPECT_EQ(records.at("b").confirmed_offset, 0xfffffffffffffff0ULL);
}

TEST_F(StateStoreTest, ProgressOnAnUnknownPathRecordsOnlyTheUpload)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const std::int64_t folder = value_of(store->folder_id("f"));
    const std::string path = "new\n\xfe file";
    const FileVersion version{5000, 1234567890123, 99};
    ASSERT_TRUE(succeeded(store->apply({progress(folder, path, version, 4096)})));

    const FolderRecords records = value_of(store->load_folder(folder));
    ASSERT_EQ(records.size(), 1U);
    const FileRecord& record = records.at(path);
    EXPECT_EQ(record.committed, std::nullopt);
    EXPECT_EQ(record.sha256, std::nullopt);
    EXPECT_EQ(record.mode, 0U);
    EXPECT_EQ(record.uploading, std::optional<FileVersion>{version});
    EXPECT_EQ(record.confirmed_offset, 4096U);
}

TEST_F(StateStoreTest, ProgressOnACommittedFileKeepsTheCommittedVersion)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const std::int64_t folder = value_of(store->folder_id("f"));
    const FileVersion old_version{100, 1, 7};
    const FileVersion new_version{200, 2, 7};
    ASSERT_TRUE(succeeded(store->apply({committed(folder, "a", old_version, 0100644, digest_of("old"))})));
    ASSERT_TRUE(succeeded(store->apply({progress(folder, "a", new_version, 64)})));
    // A later Progress moves the offset forward.
    ASSERT_TRUE(succeeded(store->apply({progress(folder, "a", new_version, 128)})));

    const FileRecord record = value_of(store->load_folder(folder)).at("a");
    EXPECT_EQ(record.committed, std::optional<FileVersion>{old_version});
    EXPECT_EQ(record.mode, 0100644U);
    EXPECT_EQ(record.sha256, std::optional<Sha256Digest>{digest_of("old")});
    EXPECT_EQ(record.uploading, std::optional<FileVersion>{new_version});
    EXPECT_EQ(record.confirmed_offset, 128U);
}

TEST_F(StateStoreTest, CommittedAfterProgressClearsTheUploadFields)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const std::int64_t folder = value_of(store->folder_id("f"));
    const FileVersion version{300, 3, 8};
    ASSERT_TRUE(succeeded(store->apply({progress(folder, "a", version, 200)})));
    ASSERT_TRUE(value_of(store->load_folder(folder)).at("a").uploading.has_value());

    ASSERT_TRUE(succeeded(store->apply({committed(folder, "a", version, 0100755, digest_of("done"))})));
    const FileRecord record = value_of(store->load_folder(folder)).at("a");
    EXPECT_EQ(record.committed, std::optional<FileVersion>{version});
    EXPECT_EQ(record.mode, 0100755U);
    EXPECT_EQ(record.sha256, std::optional<Sha256Digest>{digest_of("done")});
    EXPECT_EQ(record.uploading, std::nullopt);
    EXPECT_EQ(record.confirmed_offset, 0U);
}

TEST_F(StateStoreTest, ProgressThenCommittedInOneBatch)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const std::int64_t folder = value_of(store->folder_id("f"));
    const FileVersion version{300, 3, 8};
    ASSERT_TRUE(succeeded(store->apply({progress(folder, "a", version, 100), committed(folder, "a", version, 0100644,
                                                                           digest_of("a"))})));
    const FileRecord record = value_of(store->load_folder(folder)).at("a");
    EXPECT_EQ(record.committed, std::optional<FileVersion>{version});
    EXPECT_EQ(record.uploading, std::nullopt);
    EXPECT_EQ(record.confirmed_offset, 0U);
}

TEST_F(StateStoreTest, ForgottenDeletesOnlyThatPath)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const std::int64_t folder = value_of(store->folder_id("f"));
    const std::string odd = "gone\n\xff";
    ASSERT_TRUE(succeeded(store->apply({committed(folder, odd, FileVersion{1, 1, 1}, 0, digest_of("1")),
                            committed(folder, "stays", FileVersion{2, 2, 2}, 0, digest_of("2")),
                            progress(folder, "uploading", FileVersion{3, 3, 3}, 1)})));
    ASSERT_EQ(value_of(store->load_folder(folder)).size(), 3U);

    // Forgetting a path the store never knew is not an error.
    ASSERT_TRUE(succeeded(store->apply({forgotten(folder, odd), forgotten(folder, "uploading"), forgotten(folder, "never")})));
    const FolderRecords records = value_of(store->load_folder(folder));
    ASSERT_EQ(records.size(), 1U);
    EXPECT_TRUE(records.contains("stays"));
}

TEST_F(StateStoreTest, ForgottenTreeDeletesThePathAndEverythingBelowIt)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const std::int64_t folder = value_of(store->folder_id("f"));
    const std::int64_t other = value_of(store->folder_id("other"));
    const Sha256Digest digest = digest_of("x");
    ASSERT_TRUE(succeeded(store->apply({committed(folder, "d", FileVersion{1, 1, 1}, 0, digest),
                            committed(folder, "d/a", FileVersion{1, 1, 2}, 0, digest),
                            committed(folder, "d/sub/b", FileVersion{1, 1, 3}, 0, digest),
                            committed(folder, "d0", FileVersion{1, 1, 4}, 0, digest),
                            committed(folder, "d.txt", FileVersion{1, 1, 5}, 0, digest),
                            committed(folder, "dd/a", FileVersion{1, 1, 6}, 0, digest),
                            committed(other, "d/a", FileVersion{1, 1, 7}, 0, digest)})));
    StateChange tree = forgotten(folder, "d");
    tree.kind = StateChange::Kind::ForgottenTree;
    ASSERT_TRUE(succeeded(store->apply({tree})));
    const FolderRecords records = value_of(store->load_folder(folder));
    // Siblings whose names merely start with "d" stay, and so does the other folder's "d/a".
    EXPECT_EQ(records.size(), 3U);
    EXPECT_TRUE(records.contains("d0"));
    EXPECT_TRUE(records.contains("d.txt"));
    EXPECT_TRUE(records.contains("dd/a"));
    EXPECT_EQ(value_of(store->load_folder(other)).size(), 1U);
}

TEST_F(StateStoreTest, FoldersDoNotShareRecords)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const std::int64_t one = value_of(store->folder_id("one"));
    const std::int64_t two = value_of(store->folder_id("two"));
    ASSERT_TRUE(succeeded(store->apply({committed(one, "same", FileVersion{1, 1, 1}, 1, digest_of("one")),
                            committed(two, "same", FileVersion{2, 2, 2}, 2, digest_of("two"))})));
    ASSERT_TRUE(succeeded(store->apply({forgotten(one, "same")})));
    EXPECT_TRUE(value_of(store->load_folder(one)).empty());
    const FolderRecords records = value_of(store->load_folder(two));
    ASSERT_EQ(records.size(), 1U);
    EXPECT_EQ(records.at("same").committed, (std::optional<FileVersion>{FileVersion{2, 2, 2}}));
}

TEST_F(StateStoreTest, EmptyBatchIsANoOp)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(succeeded(store->apply({})));
    EXPECT_TRUE(value_of(store->load_folder(value_of(store->folder_id("f")))).empty());
}

// A change for a folder id that does not exist violates the foreign key: the whole batch is refused,
// including the valid changes before it, and the store stays usable.
TEST_F(StateStoreTest, FailedBatchAppliesNothing)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const std::int64_t folder = value_of(store->folder_id("f"));
    ASSERT_TRUE(succeeded(store->apply({committed(folder, "before", FileVersion{1, 1, 1}, 0, digest_of("b"))})));

    const std::int64_t missing_folder = folder + 1000;
    const Result<void> failed =
        store->apply({committed(folder, "valid", FileVersion{2, 2, 2}, 0, digest_of("v")),
                      forgotten(folder, "before"),
                      committed(missing_folder, "orphan", FileVersion{3, 3, 3}, 0, digest_of("o"))});
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, ErrorCode::State);
    EXPECT_NE(failed.error().message.find(db_path()), std::string::npos) << failed.error().message;
    EXPECT_NE(failed.error().message.find("orphan"), std::string::npos) << failed.error().message;

    FolderRecords records = value_of(store->load_folder(folder));
    ASSERT_EQ(records.size(), 1U);
    EXPECT_TRUE(records.contains("before"));
    EXPECT_TRUE(value_of(store->load_folder(missing_folder)).empty());

    // The failed transaction was rolled back: the next batch goes through.
    ASSERT_TRUE(succeeded(store->apply({committed(folder, "after", FileVersion{4, 4, 4}, 0, digest_of("a"))})));
    records = value_of(store->load_folder(folder));
    EXPECT_EQ(records.size(), 2U);
    EXPECT_TRUE(records.contains("after"));
}

// A database that cannot answer is an error, never an id of 0 or an empty folder: an empty folder would
// read as "nothing was ever synced here".
TEST_F(StateStoreTest, AFolderIdThatCannotBeGivenIsAnError)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    RawDb raw{db_path()};
    ASSERT_TRUE(raw.exec("DROP TABLE folders"));
    const Result<std::int64_t> id = store->folder_id("photos");
    ASSERT_FALSE(id.ok());
    EXPECT_EQ(id.error().code, ErrorCode::State);
    EXPECT_NE(id.error().message.find(db_path()), std::string::npos) << id.error().message;
    EXPECT_NE(id.error().message.find("photos"), std::string::npos) << id.error().message;
    EXPECT_NE(id.error().message.find("no such table"), std::string::npos) << id.error().message;
}

TEST_F(StateStoreTest, RecordsThatCannotBeReadAreAnErrorNotAnEmptyFolder)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const std::int64_t folder = value_of(store->folder_id("f"));
    ASSERT_TRUE(succeeded(store->apply({committed(folder, "d/a", FileVersion{1, 1, 1}, 0, digest_of("a"))})));
    RawDb raw{db_path()};
    ASSERT_TRUE(raw.exec("DROP TABLE files"));
    const Result<FolderRecords> whole = store->load_folder(folder);
    ASSERT_FALSE(whole.ok());
    EXPECT_EQ(whole.error().code, ErrorCode::State);
    EXPECT_NE(whole.error().message.find("no such table"), std::string::npos) << whole.error().message;
    const Result<FolderRecords> below = store->load_subtree(folder, "d");
    ASSERT_FALSE(below.ok());
    EXPECT_NE(below.error().message.find("'d'"), std::string::npos) << below.error().message;
    const Result<void> write = store->apply({forgotten(folder, "d/a")});
    ASSERT_FALSE(write.ok());
    EXPECT_NE(write.error().message.find(db_path()), std::string::npos) << write.error().message;
}

TEST_F(StateStoreTest, DataPersistsAcrossReopen)
{
    const FileVersion version{4242, 171717, 3};
    const FileVersion partial{5000, 181818, 3};
    const std::string path = "persist\n\x80\xff.bin";
    std::int64_t folder = 0;
    {
        StorePtr store = open_store();
        ASSERT_NE(store, nullptr);
        folder = value_of(store->folder_id("f"));
        ASSERT_TRUE(succeeded(store->apply({committed(folder, path, version, 0100640, digest_of(path)),
                                progress(folder, "partial", partial, 2048)})));
    }
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    ASSERT_EQ(value_of(store->folder_id("f")), folder);
    const FolderRecords records = value_of(store->load_folder(folder));
    ASSERT_EQ(records.size(), 2U);
    EXPECT_EQ(records.at(path).committed, std::optional<FileVersion>{version});
    EXPECT_EQ(records.at(path).mode, 0100640U);
    EXPECT_EQ(records.at(path).sha256, std::optional<Sha256Digest>{digest_of(path)});
    EXPECT_EQ(records.at("partial").uploading, std::optional<FileVersion>{partial});
    EXPECT_EQ(records.at("partial").confirmed_offset, 2048U);
}

// A second connection sees committed batches while the store is still open (WAL readers).
TEST_F(StateStoreTest, CommittedBatchesAreVisibleToAnotherConnection)
{
    StorePtr store = open_store();
    ASSERT_NE(store, nullptr);
    const std::int64_t folder = value_of(store->folder_id("f"));
    ASSERT_TRUE(succeeded(store->apply({committed(folder, "a", FileVersion{1, 2, 3}, 0, digest_of("a"))})));
    RawDb raw{db_path()};
    ASSERT_TRUE(raw.ok());
    EXPECT_EQ(raw.text("SELECT size || ',' || mtime_ns || ',' || inode FROM files WHERE path = CAST('a' AS BLOB)"),
              std::optional<std::string>{"1,2,3"});
}

TEST_F(StateStoreTest, GarbageFileIsRefusedWithItsPath)
{
    const std::string path = (sandbox() / "garbage.db").string();
    {
        std::ofstream out{path, std::ios::binary};
        std::string junk;
        for (int i = 0; i < 8192; ++i) {
            junk.push_back(static_cast<char>((i * 131 + 17) & 0xff));
        }
        out << "this is not an SQLite database\n" << junk;
    }
    const Error error = open_failure(path);
    EXPECT_NE(error.message.find("'" + path + "'"), std::string::npos) << error.message;
    // Only damage justifies moving the file aside and starting afresh.
    EXPECT_EQ(error.code, ErrorCode::DamagedState) << error.message;
}

TEST_F(StateStoreTest, MissingDirectoryIsRefusedWithItsPath)
{
    const std::string path = (sandbox() / "no-such-dir" / "state.db").string();
    const Error error = open_failure(path);
    EXPECT_NE(error.message.find("'" + path + "'"), std::string::npos) << error.message;
    EXPECT_EQ(error.code, ErrorCode::State) << error.message;
}

TEST_F(StateStoreTest, NewerSchemaVersionIsRefused)
{
    {
        RawDb raw{db_path()};
        ASSERT_TRUE(raw.ok());
        ASSERT_TRUE(raw.exec("PRAGMA user_version = 99"));
    }
    const Error failure = open_failure(db_path());
    const std::string& error = failure.message;
    EXPECT_NE(error.find("99"), std::string::npos) << error;
    EXPECT_NE(error.find("'" + db_path() + "'"), std::string::npos) << error;
    // A newer minisyncd may still want it: not damage, so it is not moved aside.
    EXPECT_EQ(failure.code, ErrorCode::State);
    // The refused database is left as it was.
    RawDb raw{db_path()};
    EXPECT_EQ(raw.text("PRAGMA user_version"), std::optional<std::string>{"99"});
    EXPECT_EQ(raw.text("SELECT count(*) FROM sqlite_master WHERE name = 'files'"), std::optional<std::string>{"0"});
}

} // namespace
} // namespace minisync::agent
