// judge_root: whether a folder's root may be synced, from the directory found at its path and the identity
// recorded for it. Pure; the identities are made up.
#include "folder_root.h"

#include <gtest/gtest.h>

namespace minisync::agent {
namespace {

using State = RootVerdict::State;

std::optional<FolderRoot> found(dev_t device, ino_t inode, std::int64_t birth_ns = 0)
{
    return FolderRoot{"/srv/data", RootIdentity{device, inode, birth_ns}};
}

TEST(JudgeRootTest, AFirstDirectoryIsPresentAndRecorded)
{
    const RootVerdict verdict = judge_root("/srv/data", found(2049, 2), std::nullopt);
    EXPECT_EQ(verdict.state, State::Present);
    EXPECT_TRUE(verdict.record_identity);
    EXPECT_TRUE(verdict.reason.empty());
}

TEST(JudgeRootTest, TheRecordedDirectoryIsPresentAndNotRecordedAgain)
{
    const RootVerdict verdict = judge_root("/srv/data", found(2049, 2), RootIdentity{2049, 2});
    EXPECT_EQ(verdict.state, State::Present);
    EXPECT_FALSE(verdict.record_identity);
}

TEST(JudgeRootTest, NoDirectoryNeverSeenIsMissing)
{
    const RootVerdict verdict = judge_root("/srv/data", std::nullopt, std::nullopt);
    EXPECT_EQ(verdict.state, State::Missing);
    EXPECT_FALSE(verdict.record_identity);
    EXPECT_NE(verdict.reason.find("'/srv/data' does not exist"), std::string::npos) << verdict.reason;
}

// Once a root was recorded, its absence is that root gone: whatever appears at the path later is another
// directory, so the folder is suspended rather than synced when something appears.
TEST(JudgeRootTest, ARecordedRootThatIsGoneIsSuspended)
{
    const RootVerdict verdict = judge_root("/srv/data", std::nullopt, RootIdentity{1, 2});
    EXPECT_EQ(verdict.state, State::Suspended);
    EXPECT_FALSE(verdict.record_identity);
    EXPECT_NE(verdict.reason.find("is gone"), std::string::npos) << verdict.reason;
}

// The bare mount point of an unmounted file system: another device. A folder deleted and made again: the
// same device, another inode. Neither may be taken for the folder.
TEST(JudgeRootTest, AnotherDirectoryIsSuspendedAndNamesBothIdentities)
{
    for (const auto& [device, inode] : {std::pair<dev_t, ino_t>{2050, 2}, std::pair<dev_t, ino_t>{2049, 77}}) {
        const RootVerdict verdict = judge_root("/srv/data", found(device, inode), RootIdentity{2049, 2});
        EXPECT_EQ(verdict.state, State::Suspended);
        EXPECT_FALSE(verdict.record_identity);
        EXPECT_NE(verdict.reason.find("device 2049 inode 2"), std::string::npos) << verdict.reason;
        EXPECT_NE(verdict.reason.find("now device " + std::to_string(device) + " inode " + std::to_string(inode)),
                  std::string::npos)
            << verdict.reason;
    }
}

// A directory deleted and made again at once often gets the same inode back: only its birth time differs.
TEST(JudgeRootTest, TheSameInodeBornLaterIsAnotherDirectory)
{
    const RootIdentity recorded{2049, 2, 1'000'000'000};
    EXPECT_EQ(judge_root("/srv/data", found(2049, 2, 1'000'000'001), recorded).state, State::Suspended);
    EXPECT_EQ(judge_root("/srv/data", found(2049, 2, 1'000'000'000), recorded).state, State::Present);
    // Where the file system keeps no birth time (0 on either side), device and inode decide.
    EXPECT_EQ(judge_root("/srv/data", found(2049, 2, 0), recorded).state, State::Present);
    EXPECT_EQ(judge_root("/srv/data", found(2049, 2, 5), RootIdentity{2049, 2, 0}).state, State::Present);
}

} // namespace
} // namespace minisync::agent
