ALTER TABLE "customers" ADD COLUMN "digest" jsonb;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "state_hash" text;