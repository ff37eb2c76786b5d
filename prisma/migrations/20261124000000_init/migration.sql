-- CreateEnum
CREATE TYPE "MediaType" AS ENUM ('image', 'video', 'audio', 'document', 'archive');

-- CreateEnum
CREATE TYPE "MediaStatus" AS ENUM ('ready', 'processing', 'failed');

-- CreateTable
CREATE TABLE "data_keys" (
    "id" UUID NOT NULL,
    "owner_id" TEXT NOT NULL,
    "master_key_id" TEXT NOT NULL,
    "wrapped" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "data_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "media" (
    "id" UUID NOT NULL,
    "owner_id" TEXT NOT NULL,
    "type" "MediaType" NOT NULL,
    "status" "MediaStatus" NOT NULL,
    "mime_type" TEXT NOT NULL,
    "original_mime_type" TEXT NOT NULL,
    "original_name" TEXT NOT NULL,
    "original_size" BIGINT NOT NULL,
    "original_sha256" TEXT NOT NULL,
    "original_md5" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "sha256" TEXT NOT NULL,
    "md5" TEXT NOT NULL,
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "blob_key" TEXT NOT NULL,
    "data_key_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "media_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "previews" (
    "id" UUID NOT NULL,
    "media_id" UUID NOT NULL,
    "size" INTEGER NOT NULL,
    "width" INTEGER NOT NULL,
    "height" INTEGER NOT NULL,
    "mime_type" TEXT NOT NULL,
    "bytes" BIGINT NOT NULL,
    "blob_key" TEXT NOT NULL,
    "data_key_id" UUID NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "previews_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "user_keys" (
    "owner_id" TEXT NOT NULL,
    "salt" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "user_keys_pkey" PRIMARY KEY ("owner_id")
);

-- CreateTable
CREATE TABLE "usage" (
    "owner_id" TEXT NOT NULL,
    "used_bytes" BIGINT NOT NULL DEFAULT 0,
    "file_count" INTEGER NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "usage_pkey" PRIMARY KEY ("owner_id")
);

-- CreateTable
CREATE TABLE "daily_uploads" (
    "owner_id" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "count" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "daily_uploads_pkey" PRIMARY KEY ("owner_id","day")
);

-- CreateTable
CREATE TABLE "quota_reservations" (
    "id" UUID NOT NULL,
    "owner_id" TEXT NOT NULL,
    "bytes" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "quota_reservations_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "data_keys_master_key_id_idx" ON "data_keys"("master_key_id");

-- CreateIndex
CREATE UNIQUE INDEX "media_blob_key_key" ON "media"("blob_key");

-- CreateIndex
CREATE UNIQUE INDEX "media_data_key_id_key" ON "media"("data_key_id");

-- CreateIndex
CREATE INDEX "media_owner_id_type_idx" ON "media"("owner_id", "type");

-- CreateIndex
CREATE UNIQUE INDEX "media_owner_id_original_sha256_key" ON "media"("owner_id", "original_sha256");

-- CreateIndex
CREATE UNIQUE INDEX "previews_blob_key_key" ON "previews"("blob_key");

-- CreateIndex
CREATE UNIQUE INDEX "previews_data_key_id_key" ON "previews"("data_key_id");

-- CreateIndex
CREATE UNIQUE INDEX "previews_media_id_size_key" ON "previews"("media_id", "size");

-- CreateIndex
CREATE INDEX "quota_reservations_owner_id_idx" ON "quota_reservations"("owner_id");

-- CreateIndex
CREATE INDEX "quota_reservations_updated_at_idx" ON "quota_reservations"("updated_at");

-- AddForeignKey
ALTER TABLE "media" ADD CONSTRAINT "media_data_key_id_fkey" FOREIGN KEY ("data_key_id") REFERENCES "data_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "previews" ADD CONSTRAINT "previews_media_id_fkey" FOREIGN KEY ("media_id") REFERENCES "media"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "previews" ADD CONSTRAINT "previews_data_key_id_fkey" FOREIGN KEY ("data_key_id") REFERENCES "data_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
