-- Widening numeric at the same scale rewrites neither the table nor its indexes (checked on Postgres 15).
ALTER TABLE "customers" ALTER COLUMN "net_revenue" SET DATA TYPE numeric(28, 4);--> statement-breakpoint
ALTER TABLE "customers" ALTER COLUMN "net_revenue" SET DEFAULT '0';--> statement-breakpoint
ALTER TABLE "customers" ALTER COLUMN "clv_12m" SET DATA TYPE numeric(28, 4);