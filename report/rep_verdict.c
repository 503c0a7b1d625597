/* rep_verdict.c - turns the facts of one attempt into a verdict, a reason and a Zeek state. */
#include "rep_index.h"
#include "report.h"

#include <string.h>

static const char *const verdict_names[REP_VERDICT_COUNT] = {
    [REP_ACCEPTED] = "accepted",
    [REP_RESET_AFTER_ACCEPT] = "reset-after-accept",
    [REP_CLOSED_AFTER_ACCEPT] = "closed-after-accept",
    [REP_REFUSED] = "refused",
    [REP_REFUSED_BY_MIDDLEBOX] = "refused-by-middlebox",
    [REP_UNREACHABLE] = "unreachable",
    [REP_DROPPED] = "dropped",
    [REP_HALF_OPEN] = "half-open",
    [REP_CLIENT_ABORT] = "client-abort",
    [REP_STALE] = "stale",
    [REP_BAD_SYNACK] = "bad-synack",
    [REP_UNDETERMINED] = "undetermined",
};

const char *rep_verdict_name(enum rep_verdict verdict)
{
    if ((unsigned)verdict >= REP_VERDICT_COUNT) {
        return "unknown";
    }
    return verdict_names[verdict];
}

int rep_verdict_parse(const char *name, enum rep_verdict *out)
{
    for (int v = 0; v < REP_VERDICT_COUNT; v++) {
        if (strcmp(name, verdict_names[v]) == 0) {
            *out = (enum rep_verdict)v;
            return 0;
        }
    }
    return -1;
}

bool rep_verdict_is_failure(enum rep_verdict verdict)
{
    return verdict != REP_ACCEPTED && verdict != REP_UNDETERMINED;
}

int rep_hops(uint8_t ttl)
{
    /* Stacks start at 64 (Linux, macOS, BSD), 128 (Windows) or 255 (network gear). */
    int initial = ttl <= 64 ? 64 : ttl <= 128 ? 128 : 255;
    return initial - ttl;
}

/* RFC 792 and RFC 1812 5.2.7.1 (type 3 codes), RFC 4443 3.1 (ICMPv6 type 1 codes). */
static const char *const icmp4_unreach[] = {
    "net",
    "host",
    "proto",
    "port",
    "frag-needed",
    "source-route",
    "net-unknown",
    "host-unknown",
    "host-isolated",
    "net-prohibited",
    "host-prohibited",
    "net-tos",
    "host-tos",
    "admin-prohibited",
    "host-precedence",
    "precedence-cutoff",
};
static const char *const icmp6_unreach[] = {
    "no-route", "admin-prohibited", "beyond-scope", "addr",
    "port",     "policy-failed",    "reject-route", "srh-error",
};

const char *rep_icmp_reason(int family, uint8_t type, uint8_t code)
{
    if (family == 4) {
        if (type == 3) {
            return code < sizeof(icmp4_unreach) / sizeof(icmp4_unreach[0]) ? icmp4_unreach[code]
                                                                           : "unreach-other";
        }
        if (type == 11) {
            return code == 0 ? "ttl-exceeded" : "reassembly-exceeded";
        }
    } else {
        if (type == 1) {
            return code < sizeof(icmp6_unreach) / sizeof(icmp6_unreach[0]) ? icmp6_unreach[code]
                                                                           : "unreach-other";
        }
        if (type == 3) {
            return code == 0 ? "ttl-exceeded" : "reassembly-exceeded";
        }
    }
    return "icmp-other";
}

/* The verdict, its reason and the Zeek state. */
static void decide(struct rep_judgement *j, enum rep_verdict verdict, const char *reason,
                   const char *zeek_state)
{
    j->verdict = verdict;
    j->reason = reason;
    j->zeek_state = zeek_state;
}

/* Time of the last SYN sent at or before t. */
static int64_t syn_before(const struct flow_attempt *a, int64_t t)
{
    if (a->syn_last_ns != 0 && a->syn_last_ns <= t) {
        return a->syn_last_ns;
    }
    int64_t best = a->first_ns;
    uint32_t kept = a->syn_count < FLOW_MAX_SYN_TIMES ? a->syn_count : FLOW_MAX_SYN_TIMES;
    for (uint32_t i = 0; i < kept; i++) {
        if (a->syn_ns[i] <= t) {
            best = a->syn_ns[i];
        }
    }
    return best;
}

/* Zeek conn_state of an attempt that got past the SYN-ACK (base/protocols/conn/main.zeek). */
static const char *zeek_established_state(const struct flow_attempt *a)
{ /* Zeek looks at the responder's state first: a responder RST makes it RSTR even when the
   * originator reset too */
    if (a->server_rst_ns != 0) {
        return "RSTR";
    }
    if (a->client_rst_ns != 0) {
        return "RSTO";
    }
    if (a->client_fin_ns != 0 && a->server_fin_ns != 0) {
        return "SF";
    }
    if (a->client_fin_ns != 0) {
        return "S2";
    }
    if (a->server_fin_ns != 0) {
        return "S3";
    }
    return "S1";
}

static void judge_accepted(const struct flow_attempt *a, const struct rep_config *cfg,
                           struct rep_judgement *j)
{
    bool client_went_on = a->handshake_done || a->client_bytes > 0;
    decide(j, REP_ACCEPTED, "syn-ack", zeek_established_state(a));
    if (!client_went_on) {
        if (a->client_rst_ns != 0) {
            decide(j, REP_CLIENT_ABORT, "rst-after-syn-ack", "RSTO");
            return;
        }
        int64_t since = a->seen_until_ns - a->reply.ts_ns;
        if (a->end == FLOW_END_CAPTURE_END && since < cfg->syn_timeout_ns) {
            return; /* the ACK may simply be after the end of the capture */
        }
        /* An input without pure ACKs (live capture's kernel filter passes only SYN, FIN and
         * RST, and so does a file it saved) cannot show the handshake's ACK. There only the
         * signs of a SYN-ACK that did not arrive tell a half-open attempt: the server sending
         * its SYN-ACK again (RFC 6298 retransmission) or the client its SYN after it. */
        bool synack_repeated = a->synack_count > 1;
        bool syn_after_synack = a->saw_syn && a->syn_last_ns > a->reply.ts_ns;
        if (!a->acks_in_capture && !synack_repeated && !syn_after_synack) {
            return;
        }
        decide(j, REP_HALF_OPEN, "no-ack", "S1");
        return;
    }
    /* The server ended it before sending a byte: the service accepted and threw it away. */
    /* The sequence number of the server's FIN or RST also tells whether it had sent data
     * (live capture passes no data packets): it is the SYN-ACK's + 1 when nothing was sent. */
    bool data_by_seq = a->server_end.ts_ns != 0 && a->server_end.seq != a->server_isn + 1;
    bool server_silent =
        (a->server_first_data_ns == 0 && !data_by_seq) ||
        (a->server_end.ts_ns != 0 && a->server_end.ts_ns < a->server_first_data_ns);
    if (a->server_end.ts_ns != 0 && server_silent) {
        if (a->server_end.flags & DEC_TCP_RST) {
            if (a->client_rst_ns == 0 || a->client_rst_ns > a->server_rst_ns) {
                j->verdict = REP_RESET_AFTER_ACCEPT;
                j->reason = "rst";
            }
        } else if (a->client_fin_ns == 0 || a->client_fin_ns > a->server_fin_ns) {
            j->verdict = REP_CLOSED_AFTER_ACCEPT;
            j->reason = "fin";
        }
    }
}

/* Zeek's rule for an originator RST with no SYN-ACK: RSTOS0 when the history matches
 * /^?S[^HAFGIQ]*R/ (a SYN, then a RST, nothing else from the client between), else OTH. */
static const char *zeek_client_rst_state(const struct flow_attempt *a)
{
    const char *h = a->history;
    if (*h == '^') {
        h++;
    }
    if (*h != 'S') {
        return "OTH";
    }
    for (h++; *h != '\0'; h++) {
        if (*h == 'R') {
            return "RSTOS0";
        }
        if (strchr("HAFGIQ", *h) != NULL) {
            return "OTH";
        }
    }
    return "OTH";
}

void rep_judge(const struct flow_attempt *a, const struct rep_config *cfg, struct rep_judgement *j)
{
    /* every field but the evidence's unused tail: this runs for every attempt */
    decide(j, REP_ACCEPTED, NULL, NULL);
    j->sender = REP_SENDER_NONE;
    j->flags = 0;
    j->evidence[0] = '\0';
    j->hops = -1;
    j->rtt_ns = -1;
    j->start_ns = a->saw_syn ? a->syn_ns[0] : a->first_ns;
    j->waited_ns = a->last_ns - j->start_ns;
    if (a->answer != FLOW_ANS_NONE) {
        j->sender =
            rep_addr_equal(&a->reply.from, &a->server) ? REP_SENDER_SERVER : REP_SENDER_ROUTER;
        j->hops = rep_hops(a->reply.ttl);
        if (a->saw_syn) {
            j->rtt_ns = a->reply.ts_ns - syn_before(a, a->reply.ts_ns);
            j->waited_ns = a->reply.ts_ns - j->start_ns;
        }
    }

    if (!a->saw_syn) {
        /* Only the server's side of the handshake is in the capture. */
        j->verdict = REP_UNDETERMINED;
        j->reason = "one-sided"; /* Zeek flips such a connection; its originator is "inactive"
                                  * unless it sent data, a FIN or a RST, and then the usual
                                  * established states apply */
        bool client_active = a->client_bytes > 0 || a->client_fin_ns != 0 || a->client_rst_ns != 0;
        if (client_active) {
            j->zeek_state = zeek_established_state(a);
        } else {
            j->zeek_state = a->server_rst_ns ? "RSTRH" : a->server_fin_ns ? "SHR" : "OTH";
        }
        return;
    }
    switch (a->answer) {
    case FLOW_ANS_SYNACK:
        judge_accepted(a, cfg, j);
        return;
    case FLOW_ANS_RST:
        decide(j, REP_REFUSED, "rst", "REJ");
        return;
    case FLOW_ANS_ICMP:
        /* Zeek does not tie the ICMP error to the connection: S0 */
        decide(j, REP_UNREACHABLE,
               rep_icmp_reason(a->family, a->reply.icmp_type, a->reply.icmp_code), "S0");
        return;
    case FLOW_ANS_BAD_SYNACK:
        decide(j, REP_BAD_SYNACK, "wrong-ack", "OTH");
        return;
    case FLOW_ANS_BARE_ACK:
        /* the responder's bare ACK moved it out of Zeek's "inactive" states */
        decide(j, REP_STALE, "bare-ack", a->client_rst_ns ? zeek_client_rst_state(a) : "OTH");
        return;
    case FLOW_ANS_NONE:
        break;
    }
    if (a->client_acked_unseen || a->server_acked_unseen) {
        decide(j, REP_UNDETERMINED, "one-sided", a->client_fin_ns ? "SH" : "S0");
        return;
    }
    if (a->client_rst_ns != 0) {
        decide(j, REP_CLIENT_ABORT, "rst-before-answer", zeek_client_rst_state(a));
        return;
    }
    /* no answer at all */
    if (a->host_facts & FLOW_HOST_ONLY) {
        /* live host evidence: this host's kernel dropped the SYN before it left */
        decide(j, REP_DROPPED, "local", "S0");
        return;
    }
    if (a->end == FLOW_END_CAPTURE_END && a->seen_until_ns - j->start_ns < cfg->syn_timeout_ns) {
        decide(j, REP_UNDETERMINED, "capture-ended", "S0");
        j->waited_ns = a->seen_until_ns - j->start_ns;
    } else if (a->end == FLOW_END_EVICTED) {
        decide(j, REP_UNDETERMINED, "evicted", "S0");
    } else {
        decide(j, REP_DROPPED, "no-answer", "S0");
    }
}

const char *rep_flag_name(unsigned bit_index)
{
    static const char *const names[REP_FLAG_COUNT] = {"middlebox-reset", "syncookie",
                                                      "synack-after-ack", "late-synack"};
    return bit_index < REP_FLAG_COUNT ? names[bit_index] : "unknown";
}
