// Tests for start-up reconciliation: a table of scans against recorded state and the uploads, removals
// and counts each must produce.
#include "reconcile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace minisync::agent {
namespace {

constexpr std::uint32_t RegularFile = 0100644;
constexpr std::uint32_t Executable = 0100755;

const FileVersion V1{1000, 1'700'000'000'000'000'000, 42};
const FileVersion SameSizeNewMtime{1000, 1'700'000'001'000'000'000, 42};
const FileVersion SameSizeNewInode{1000, 1'700'000'000'000'000'000, 43};
const FileVersion Grown{1500, 1'700'000'002'000'000'000, 42};

FileRecord committed_record(FileVersion version, std::uint32_t mode)
{
    FileRecord record;
    record.committed = version;
    record.mode = mode;
    record.sha256 = Sha256Digest{};
    return record;
}

FileRecord entry_record(EntryKind kind, FileVersion version, std::uint32_t mode)
{
    FileRecord record;
    record.kind = kind;
    record.committed = version;
    record.mode = mode;
    return record;
}

FileRecord uploading_record(std::optional<FileVersion> committed, FileVersion uploading, std::uint64_t offset)
{
    FileRecord record;
    record.committed = committed;
    record.mode = committed ? RegularFile : 0;
    record.uploading = uploading;
    record.confirmed_offset = offset;
    return record;
}

FolderScan complete_scan(std::vector<ScannedEntry> files, std::set<std::string> listed = {""})
{
    FolderScan scan;
    scan.entries = std::move(files);
    scan.listed_dirs = std::move(listed);
    scan.complete = true;
    return scan;
}

struct ExpectedUpload {
    std::string path;
    bool verify_first = false;
    std::optional<ResumeHint> resume{};
};

// Members left out of a designated initializer are empty (the braces keep -Wmissing-field-initializers quiet).
struct ReconcileCase {
    std::string name{};
    FolderScan scan{};
    FolderRecords known{};
    std::vector<std::string> excludes{};
    std::vector<ExpectedUpload> uploads{};
    std::vector<std::string> removals{}; // in any order
    std::size_t unchanged = 0;
    bool withheld_removals = false;
};

void PrintTo(const ReconcileCase& c, std::ostream* os)
{
    *os << c.name;
}

std::vector<ReconcileCase> reconcile_cases()
{
    std::vector<ReconcileCase> cases;

    cases.push_back({.name = "NewFileIsUploadedVerifyFirst",
                     .scan = complete_scan({{"new.txt", V1, RegularFile}}),
                     .uploads = {{"new.txt", true, std::nullopt}}});

    cases.push_back({.name = "UnchangedFileIsCounted",
                     .scan = complete_scan({{"same.txt", V1, RegularFile}}),
                     .known = {{"same.txt", committed_record(V1, RegularFile)}},
                     .unchanged = 1});

    cases.push_back({.name = "ModeOnlyChangeIsUploadedVerifyFirst",
                     .scan = complete_scan({{"script.sh", V1, Executable}}),
                     .known = {{"script.sh", committed_record(V1, RegularFile)}},
                     .uploads = {{"script.sh", true, std::nullopt}}});

    cases.push_back({.name = "SameSizeNewMtimeIsVerifiedFirst",
                     .scan = complete_scan({{"touched", SameSizeNewMtime, RegularFile}}),
                     .known = {{"touched", committed_record(V1, RegularFile)}},
                     .uploads = {{"touched", true, std::nullopt}}});

    cases.push_back({.name = "SameSizeNewInodeIsVerifiedFirst",
                     .scan = complete_scan({{"replaced", SameSizeNewInode, RegularFile}}),
                     .known = {{"replaced", committed_record(V1, RegularFile)}},
                     .uploads = {{"replaced", true, std::nullopt}}});

    cases.push_back({.name = "DifferentSizeIsSentWithoutVerifying",
                     .scan = complete_scan({{"grown", Grown, RegularFile}}),
                     .known = {{"grown", committed_record(V1, RegularFile)}},
                     .uploads = {{"grown", false, std::nullopt}}});

    cases.push_back({.name = "DifferentSizeAndModeIsSentWithoutVerifying",
                     .scan = complete_scan({{"grown", Grown, Executable}}),
                     .known = {{"grown", committed_record(V1, RegularFile)}},
                     .uploads = {{"grown", false, std::nullopt}}});

    cases.push_back({.name = "InterruptedUploadOfTheSameVersionResumes",
                     .scan = complete_scan({{"big.iso", Grown, RegularFile}}),
                     .known = {{"big.iso", uploading_record(V1, Grown, 65536)}},
                     .uploads = {{"big.iso", false, ResumeHint{Grown, 65536}}}});

    cases.push_back({.name = "InterruptedFirstUploadResumes",
                     .scan = complete_scan({{"big.iso", V1, RegularFile}}),
                     .known = {{"big.iso", uploading_record(std::nullopt, V1, 512)}},
                     .uploads = {{"big.iso", false, ResumeHint{V1, 512}}}});

    // Nothing durable on the server yet: there is nothing to resume from.
    cases.push_back({.name = "UploadWithZeroConfirmedOffsetDoesNotResume",
                     .scan = complete_scan({{"big.iso", Grown, RegularFile}}),
                     .known = {{"big.iso", uploading_record(V1, Grown, 0)}},
                     .uploads = {{"big.iso", false, std::nullopt}}});

    // The file changed again after the interrupted upload: its partial is of no use.
    cases.push_back({.name = "UploadOfAnOlderVersionDoesNotResume",
                     .scan = complete_scan({{"big.iso", Grown, RegularFile}}),
                     .known = {{"big.iso", uploading_record(std::nullopt, V1, 512)}},
                     .uploads = {{"big.iso", false, std::nullopt}}});

    // Committed equals the scan, and a stale upload record for another version: unchanged.
    cases.push_back({.name = "StaleUploadRecordOfCommittedFileIsUnchanged",
                     .scan = complete_scan({{"f", V1, RegularFile}}),
                     .known = {{"f", uploading_record(V1, Grown, 100)}},
                     .unchanged = 1});

    cases.push_back({.name = "VanishedFileIsRemoved",
                     .scan = complete_scan({{"kept", V1, RegularFile}}),
                     .known = {{"kept", committed_record(V1, RegularFile)},
                               {"gone", committed_record(V1, RegularFile)},
                               {"dir/also gone\n", committed_record(V1, RegularFile)}},
                     .removals = {"gone", "dir/also gone\n"},
                     .unchanged = 1});

    // Only paths strictly below the failed directory are unknown; "photos2" and the sibling are not.
    cases.push_back({.name = "VanishedUnderAFailedDirectoryIsKept",
                     .scan = [] {
                         FolderScan scan = complete_scan({{"kept", V1, RegularFile}}, {"", "photos2"});
                         scan.failed_dirs = {"photos", "a/b"};
                         return scan;
                     }(),
                     .known = {{"kept", committed_record(V1, RegularFile)},
                               {"photos/x.jpg", committed_record(V1, RegularFile)},
                               {"photos/2024/y.jpg", committed_record(V1, RegularFile)},
                               {"a/b/c/d", committed_record(V1, RegularFile)},
                               {"photos2/z.jpg", committed_record(V1, RegularFile)},
                               {"a/bc", committed_record(V1, RegularFile)},
                               {"photos.txt", committed_record(V1, RegularFile)}},
                     .removals = {"photos2/z.jpg", "a/bc", "photos.txt"},
                     .unchanged = 1});

    // Another file system is mounted at "mnt" (one_file_system): neither the mount point nor what the
    // records hold below it, synced before the mount, is seen, and none of it is removed.
    cases.push_back({.name = "BelowAMountPointIsKept",
                     .scan = [] {
                         FolderScan scan = complete_scan({{"kept", V1, RegularFile}}, {""});
                         scan.mount_points = {"mnt"};
                         return scan;
                     }(),
                     .known = {{"kept", committed_record(V1, RegularFile)},
                               {"mnt", committed_record(V1, RegularFile)},
                               {"mnt/under", committed_record(V1, RegularFile)},
                               {"mnt/deep/er", committed_record(V1, RegularFile)},
                               {"mnt2", committed_record(V1, RegularFile)}},
                     .removals = {"mnt2"},
                     .unchanged = 1});

    // Reading the root failed part-way: what was listed is synced, nothing missing is removed.
    cases.push_back({.name = "FailedRootKeepsEverything",
                     .scan = [] {
                         FolderScan scan = complete_scan({{"seen", V1, RegularFile}}, {});
                         scan.failed_dirs = {""};
                         return scan;
                     }(),
                     .known = {{"seen", committed_record(V1, RegularFile)},
                               {"top", committed_record(V1, RegularFile)},
                               {"deep/er", committed_record(V1, RegularFile)}},
                     .unchanged = 1});

    cases.push_back({.name = "ExcludedVanishedFileIsKept",
                     .scan = complete_scan({{"kept", V1, RegularFile}}),
                     .known = {{"kept", committed_record(V1, RegularFile)},
                               {"notes.tmp", committed_record(V1, RegularFile)},
                               {"build/out/main.o", committed_record(V1, RegularFile)},
                               {"src/main.c", committed_record(V1, RegularFile)}},
                     .excludes = {"*.tmp", "build"},
                     .removals = {"src/main.c"},
                     .unchanged = 1});

    cases.push_back({.name = "IncompleteScanRemovesNothing",
                     .scan = [] {
                         FolderScan scan = complete_scan({{"new", V1, RegularFile}});
                         scan.complete = false;
                         return scan;
                     }(),
                     .known = {{"gone", committed_record(V1, RegularFile)}},
                     .uploads = {{"new", true, std::nullopt}}});

    cases.push_back({.name = "EmptyFolderWithRecordsWithholdsRemovals",
                     .scan = complete_scan({}),
                     .known = {{"a", committed_record(V1, RegularFile)}, {"b/c", committed_record(V1, RegularFile)}},
                     .withheld_removals = true});

    // A root that was not even listed (an unmounted mount point may fail this way too) withholds as well.
    cases.push_back({.name = "NothingListedWithRecordsWithholdsRemovals",
                     .scan = complete_scan({}, {}),
                     .known = {{"a", committed_record(V1, RegularFile)}},
                     .withheld_removals = true});

    cases.push_back({.name = "EmptyFolderWithoutRecordsIsNotWithheld", .scan = complete_scan({})});

    // Subdirectories were listed, so the tree is really there and its files were deleted.
    cases.push_back({.name = "OnlyEmptyDirectoriesLeftRemovesTheFiles",
                     .scan = complete_scan({}, {"", "sub"}),
                     .known = {{"sub/a", committed_record(V1, RegularFile)}},
                     .removals = {"sub/a"}});

    cases.push_back({.name = "UploadsKeepScanOrder",
                     .scan = complete_scan({{"c", V1, RegularFile},
                                            {"a", Grown, RegularFile},
                                            {"b", SameSizeNewMtime, RegularFile},
                                            {"d", V1, RegularFile}}),
                     .known = {{"a", committed_record(V1, RegularFile)},
                               {"b", committed_record(V1, RegularFile)},
                               {"d", committed_record(V1, RegularFile)}},
                     .uploads = {{"c", true, std::nullopt}, {"a", false, std::nullopt}, {"b", true, std::nullopt}},
                     .unchanged = 1});

    // Directories and symlinks are recorded like files, by kind; only files are ever hashed.
    const FileVersion DirV1{0, 1'700'000'000'000'000'000, 7};
    const FileVersion DirTouched{0, 1'700'000'005'000'000'000, 7};
    const FileVersion LinkV1{9, 1'700'000'000'000'000'000, 8};
    cases.push_back({.name = "UnchangedDirectoryAndSymlinkAreLeftAlone",
                     .scan = complete_scan({{"d", DirV1, 0755, EntryKind::Directory},
                                            {"l", LinkV1, 0777, EntryKind::Symlink}}),
                     .known = {{"d", entry_record(EntryKind::Directory, DirV1, 0755)},
                               {"l", entry_record(EntryKind::Symlink, LinkV1, 0)}},
                     .unchanged = 2});
    cases.push_back({.name = "ChangedDirectoryIsSentWithoutHashing",
                     .scan = complete_scan({{"d", DirTouched, 0755, EntryKind::Directory},
                                            {"e", DirV1, 0700, EntryKind::Directory}}),
                     .known = {{"d", entry_record(EntryKind::Directory, DirV1, 0755)},
                               {"e", entry_record(EntryKind::Directory, DirV1, 0755)}},
                     .uploads = {{"d", false, std::nullopt}, {"e", false, std::nullopt}}});
    cases.push_back({.name = "EntryOfAnotherKindIsSentWithoutHashing",
                     .scan = complete_scan({{"was-file", V1, 0777, EntryKind::Symlink},
                                            {"was-dir", V1, RegularFile, EntryKind::File}}),
                     .known = {{"was-file", committed_record(V1, RegularFile)},
                               {"was-dir", entry_record(EntryKind::Directory, DirV1, 0755)}},
                     .uploads = {{"was-file", false, std::nullopt}, {"was-dir", false, std::nullopt}}});
    cases.push_back({.name = "NewDirectoryAndSymlinkAreSentWithoutHashing",
                     .scan = complete_scan({{"d", DirV1, 0755, EntryKind::Directory},
                                            {"d/l", LinkV1, 0777, EntryKind::Symlink},
                                            {"d/f", V1, RegularFile, EntryKind::File}}),
                     .uploads = {{"d", false, std::nullopt}, {"d/l", false, std::nullopt}, {"d/f", true, std::nullopt}}});
    cases.push_back({.name = "VanishedDirectoryIsATreeRemoval",
                     .scan = complete_scan({{"kept", V1, RegularFile}}, {""}),
                     .known = {{"kept", committed_record(V1, RegularFile)},
                               {"gone", entry_record(EntryKind::Directory, DirV1, 0755)},
                               {"gone/f", committed_record(V1, RegularFile)},
                               {"link", entry_record(EntryKind::Symlink, LinkV1, 0)}},
                     .removals = {"gone/", "gone/f", "link"},
                     .unchanged = 1});

    // A path inside the folder that is gone (deleted right after a rename onto it) is removed: only a
    // whole folder can look unmounted.
    FolderScan vanished_subtree;
    vanished_subtree.complete = true;
    vanished_subtree.whole_folder = false;
    cases.push_back({.name = "VanishedSubtreeIsRemovedNotWithheld",
                     .scan = vanished_subtree,
                     .known = {{"d/f", committed_record(V1, RegularFile)}},
                     .removals = {"d/f"}});

    return cases;
}

class ReconcileTest : public ::testing::TestWithParam<ReconcileCase> {};

TEST_P(ReconcileTest, Plan)
{
    const ReconcileCase& c = GetParam();
    const ExcludeFilter excludes{c.excludes};
    const ReconcilePlan plan = reconcile(c.scan, c.known, excludes);

    ASSERT_EQ(plan.uploads.size(), c.uploads.size());
    for (std::size_t i = 0; i < c.uploads.size(); ++i) {
        const SyncItem& got = plan.uploads[i];
        const ExpectedUpload& want = c.uploads[i];
        SCOPED_TRACE("upload " + std::to_string(i) + " " + want.path);
        EXPECT_EQ(got.path, want.path);
        EXPECT_EQ(got.kind, SyncItem::Kind::Upload);
        EXPECT_EQ(got.folder, 0U);
        EXPECT_EQ(got.verify_first, want.verify_first);
        ASSERT_EQ(got.resume.has_value(), want.resume.has_value());
        if (want.resume) {
            EXPECT_EQ(got.resume->version, want.resume->version);
            EXPECT_EQ(got.resume->offset, want.resume->offset);
        }
    }

    // A removal is written "path" for a file and "path/" for a directory tree.
    std::vector<std::string> removals;
    for (const SyncItem& removal : plan.removals) {
        EXPECT_EQ(removal.kind, SyncItem::Kind::Remove);
        removals.push_back(removal.tree ? removal.path + "/" : removal.path);
    }
    std::vector<std::string> expected_removals = c.removals;
    std::sort(removals.begin(), removals.end());
    std::sort(expected_removals.begin(), expected_removals.end());
    EXPECT_EQ(removals, expected_removals);
    EXPECT_EQ(plan.unchanged, c.unchanged);
    EXPECT_EQ(plan.withheld_removals, c.withheld_removals);
}

INSTANTIATE_TEST_SUITE_P(Cases, ReconcileTest, ::testing::ValuesIn(reconcile_cases()),
                         [](const ::testing::TestParamInfo<ReconcileCase>& info) { return info.param.name; });

} // namespace
} // namespace minisync::agent
