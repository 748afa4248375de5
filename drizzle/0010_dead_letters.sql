CREATE TABLE "dead_letters" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"payload_hash" text NOT NULL,
	"payload" text NOT NULL,
	"error_code" text NOT NULL,
	"error_message" text NOT NULL,
	"first_failed_at" timestamp with time zone NOT NULL,
	"last_failed_at" timestamp with time zone NOT NULL,
	"failures" integer DEFAULT 1 NOT NULL,
	CONSTRAINT "dead_letters_payload_hash_unique" UNIQUE("payload_hash")
);
