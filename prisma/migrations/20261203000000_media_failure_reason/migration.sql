-- AlterTable: why background processing failed (a code of the error table), shown as
-- the Media object's failureReason while status is "failed".
ALTER TABLE "media" ADD COLUMN "failure_reason" TEXT;
