-- AlterTable: which process holds the reservation, so a crashed process's reservations
-- are released as soon as the crash is noticed rather than after they go stale.
ALTER TABLE "quota_reservations" ADD COLUMN "process_tag" TEXT;

-- CreateIndex
CREATE INDEX "quota_reservations_process_tag_idx" ON "quota_reservations"("process_tag");
