DROP INDEX "customers_tier_idx";--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "region" text;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "preferred_channel" text;--> statement-breakpoint
ALTER TABLE "customers" ADD COLUMN "price_sensitivity" text;--> statement-breakpoint
CREATE INDEX "customers_lifecycle_idx" ON "customers" USING btree ("lifecycle_stage","id");--> statement-breakpoint
CREATE INDEX "customers_rfm_segment_idx" ON "customers" USING btree ("rfm_segment","id");--> statement-breakpoint
CREATE INDEX "customers_abc_idx" ON "customers" USING btree ("abc_class","id");--> statement-breakpoint
CREATE INDEX "customers_region_idx" ON "customers" USING btree ("region","id");--> statement-breakpoint
CREATE INDEX "customers_at_risk_idx" ON "customers" USING btree ("id") WHERE "customers"."at_risk";--> statement-breakpoint
CREATE INDEX "customers_net_revenue_idx" ON "customers" USING btree ("net_revenue","id");--> statement-breakpoint
CREATE INDEX "customers_last_order_idx" ON "customers" USING btree ("last_order_at","id");--> statement-breakpoint
CREATE INDEX "customers_tier_idx" ON "customers" USING btree ("tier","id");