/* rep_host.c - host evidence judged (issue 19): the cause of an attempt's outcome on this host
 * (host.cause) from the facts flows recorded and what cli gathered (listeners, counters), and
 * the sentence that names it with its evidence. Pure: no I/O. */
#include <stdio.h>
#include <string.h>

#include "rep_int.h"

const char *rep_host_cause_name(enum rep_host_cause cause)
{
    static const char *const names[] = {
        [REP_CAUSE_LISTENING] = "listening",
        [REP_CAUSE_NO_LISTENER] = "no-listener",
        [REP_CAUSE_BOUND_ELSEWHERE] = "bound-elsewhere",
        [REP_CAUSE_FIREWALL_DROP] = "firewall-drop",
        [REP_CAUSE_FIREWALL_REJECT] = "firewall-reject",
        [REP_CAUSE_ACCEPT_QUEUE_FULL] = "accept-queue-full",
        [REP_CAUSE_SYN_QUEUE_FULL] = "syn-queue-full",
        [REP_CAUSE_NO_ROUTE] = "no-route",
        [REP_CAUSE_NEIGHBOUR_FAILED] = "neighbour-failed",
        [REP_CAUSE_UNKNOWN] = "unknown",
    };
    return (unsigned)cause < sizeof(names) / sizeof(names[0]) && names[cause] != NULL ? names[cause]
                                                                                      : "unknown";
}

/* The kernel's reason for what it did with the SYN: the drop's, else the reset's. */
const char *rep_host_kernel_reason(const struct flow_attempt *a, const struct rep_host *h)
{
    if ((a->host_facts & FLOW_HOST_DROPPED) && h->drop_reason != NULL) {
        return h->drop_reason;
    }
    if ((a->host_facts & FLOW_HOST_RESET_REASON) && h->reset_reason != NULL) {
        return h->reset_reason;
    }
    return NULL;
}

static bool reason_is(const char *reason, const char *prefix)
{
    return reason != NULL && strncmp(reason, prefix, strlen(prefix)) == 0;
}

/* A SYN the kernel dropped with this reason on its way out: why it never left. */
static enum rep_host_cause output_cause(const char *reason)
{
    if (reason_is(reason, "NEIGH")) {
        return REP_CAUSE_NEIGHBOUR_FAILED;
    }
    if (reason_is(reason, "IP_OUTNOROUTES") || reason_is(reason, "IP_NOROUTE") ||
        reason_is(reason, "IP_INNOROUTES") || reason_is(reason, "IPV6_NOROUTE")) {
        return REP_CAUSE_NO_ROUTE;
    }
    return REP_CAUSE_UNKNOWN;
}

/* A dropped SYN on the server: the queues' counters of its second tell a full queue. */
static enum rep_host_cause queue_cause(const struct rep_host *h)
{
    if (!h->counters_known) {
        return REP_CAUSE_UNKNOWN;
    }
    if (h->counters[REP_HOST_CTR_REQQ_FULL_DROP] > 0) {
        return REP_CAUSE_SYN_QUEUE_FULL;
    }
    if (h->counters[REP_HOST_CTR_LISTEN_OVERFLOWS] > 0) {
        return REP_CAUSE_ACCEPT_QUEUE_FULL;
    }
    return REP_CAUSE_UNKNOWN;
}

enum rep_host_cause rep_host_cause(const struct flow_attempt *a, const struct rep_judgement *j,
                                   const struct rep_host *h)
{
    if (a->host_facts & FLOW_HOST_NFT_REJECT) {
        return REP_CAUSE_FIREWALL_REJECT;
    }
    if (a->host_facts & FLOW_HOST_NFT_DROP) {
        return REP_CAUSE_FIREWALL_DROP;
    }
    const char *reason = rep_host_kernel_reason(a, h);
    if (a->host_facts & FLOW_HOST_OUTPUT) {
        return output_cause(reason);
    }
    if (reason_is(reason, "NETFILTER_DROP")) {
        return j->verdict == REP_DROPPED ? REP_CAUSE_FIREWALL_DROP : REP_CAUSE_FIREWALL_REJECT;
    }
    if (!h->server_side) {
        if (j->verdict == REP_ACCEPTED || j->verdict == REP_RESET_AFTER_ACCEPT ||
            j->verdict == REP_CLOSED_AFTER_ACCEPT) {
            return REP_CAUSE_LISTENING;
        }
        return (a->host_facts & FLOW_HOST_DROPPED) ? output_cause(reason) : REP_CAUSE_UNKNOWN;
    }
    switch (j->verdict) {
    case REP_ACCEPTED:
    case REP_RESET_AFTER_ACCEPT:
    case REP_CLOSED_AFTER_ACCEPT:
    case REP_HALF_OPEN:
    case REP_CLIENT_ABORT:
        return REP_CAUSE_LISTENING;
    case REP_DROPPED:
    case REP_UNDETERMINED: /* no answer yet when the capture ended */
        return queue_cause(h);
    case REP_REFUSED:
        if (h->accept == REP_HOST_NO_LISTENER) {
            return REP_CAUSE_NO_LISTENER;
        }
        if (h->accept == REP_HOST_BOUND_ELSEWHERE) {
            return REP_CAUSE_BOUND_ELSEWHERE;
        }
        return REP_CAUSE_UNKNOWN;
    default:
        break;
    }
    if (h->accept == REP_HOST_NO_LISTENER) {
        return REP_CAUSE_NO_LISTENER;
    }
    return h->accept == REP_HOST_BOUND_ELSEWHERE ? REP_CAUSE_BOUND_ELSEWHERE : REP_CAUSE_UNKNOWN;
}

/* "python3 (pid 812) listens on 127.0.0.1:5432" for listener i. */
static void describe_listener(char *buf, size_t len, const struct rep_listener *l)
{
    char ip[64];
    bool wildcard = true;
    for (size_t k = 0; k < sizeof(l->addr.b); k++) {
        wildcard = wildcard && l->addr.b[k] == 0;
    }
    if (wildcard) {
        snprintf(ip, sizeof(ip), "%s", l->family == 6 ? "[::]" : "0.0.0.0");
    } else {
        char text[48];
        dec_addr_str(&l->addr, l->family, text, sizeof(text));
        snprintf(ip, sizeof(ip), l->family == 6 ? "[%s]" : "%s", text);
    }
    char who[48] = "a process";
    if (l->pid >= 0) {
        snprintf(who, sizeof(who), "%s (pid %d)", l->comm, (int)l->pid);
    }
    snprintf(buf, len, "%s listens on %s:%u%s%s%s", who, ip, (unsigned)l->port,
             l->family == 6 && l->v6only ? " with IPV6_V6ONLY" : "",
             l->ifname[0] != '\0' ? " bound to device " : "", l->ifname);
}

static const char *bound_advice(const char *why)
{
    if (why == NULL) {
        return "";
    }
    if (strcmp(why, "loopback") == 0) {
        return "the service is bound to loopback only; make it listen on this address or on "
               "all addresses";
    }
    if (strcmp(why, "v6only") == 0) {
        return "an IPv6 socket with IPV6_V6ONLY takes no IPv4 SYN; turn IPV6_V6ONLY off or "
               "listen on 0.0.0.0 too";
    }
    if (strcmp(why, "family") == 0) {
        return "it listens for the other address family only";
    }
    if (strcmp(why, "device") == 0) {
        return "it is bound to another device";
    }
    return "the service is bound to another address; make it listen on this one";
}

/* The evidence after the finding: the kernel's reason, the rule. */
static void append_kernel(char *buf, size_t len, const struct flow_attempt *a,
                          const struct rep_host *h)
{
    size_t used = strlen(buf);
    const char *reason = rep_host_kernel_reason(a, h);
    if (reason != NULL && used < len) {
        used += (size_t)snprintf(buf + used, len - used, " (kernel: %s)", reason);
    }
}

static void queue_detail(char *buf, size_t len, const struct rep_host *h, enum rep_host_cause c)
{
    const struct rep_listener *l =
        h->listener_count > 0 ? &h->listeners[h->nearest >= 0 ? h->nearest : 0] : NULL;
    char who[160] = "the listener";
    if (l != NULL) {
        describe_listener(who, sizeof(who), l);
    }
    if (c == REP_CAUSE_ACCEPT_QUEUE_FULL) {
        snprintf(buf, len,
                 "dropped: the accept queue is full (%s, queue %u of %u; ListenOverflows +%llu "
                 "in that second): the service does not accept() fast enough",
                 who, l != NULL ? l->queue : 0, l != NULL ? l->backlog : 0,
                 (unsigned long long)h->counters[REP_HOST_CTR_LISTEN_OVERFLOWS]);
    } else {
        snprintf(buf, len,
                 "dropped: the SYN queue is full and SYN cookies are off (TCPReqQFullDrop +%llu "
                 "in that second; %s)",
                 (unsigned long long)h->counters[REP_HOST_CTR_REQQ_FULL_DROP], who);
    }
}

void rep_host_detail(char *buf, size_t len, const struct flow_attempt *a,
                     const struct rep_judgement *j, const struct rep_host *h,
                     enum rep_host_cause cause)
{
    char server[64], addr[48], listener[160] = "";
    dec_addr_str(&a->server, a->family, addr, sizeof(addr));
    snprintf(server, sizeof(server), a->family == 6 ? "[%s]:%u" : "%s:%u", addr,
             (unsigned)a->server_port);
    if (h->nearest >= 0 && (size_t)h->nearest < h->listener_count) {
        describe_listener(listener, sizeof(listener), &h->listeners[h->nearest]);
    }
    const char *rule = h->rule != NULL ? h->rule : "rule unknown";
    const char *verdict = rep_verdict_name(j->verdict);
    switch (cause) {
    case REP_CAUSE_LISTENING:
        snprintf(buf, len, "%s: %s", verdict,
                 listener[0] != '\0' ? listener : "a listener takes SYNs to this address");
        break;
    case REP_CAUSE_NO_LISTENER:
        snprintf(buf, len, "%s: nothing listens on port %u on any address of this host", verdict,
                 (unsigned)a->server_port);
        break;
    case REP_CAUSE_BOUND_ELSEWHERE:
        snprintf(buf, len, "%s: no listener on %s, but %s: %s", verdict, server, listener,
                 bound_advice(h->bound_why));
        break;
    case REP_CAUSE_FIREWALL_DROP:
        snprintf(buf, len, "%s: this host's firewall dropped the SYN%s: %s", verdict,
                 (a->host_facts & FLOW_HOST_OUTPUT) ? " on its way out" : "", rule);
        break;
    case REP_CAUSE_FIREWALL_REJECT:
        snprintf(buf, len,
                 "%s: this host's firewall rejected the SYN (the answer is the rule's, "
                 "not the service's): %s",
                 verdict, rule);
        break;
    case REP_CAUSE_ACCEPT_QUEUE_FULL:
    case REP_CAUSE_SYN_QUEUE_FULL:
        queue_detail(buf, len, h, cause);
        break;
    case REP_CAUSE_NO_ROUTE:
        snprintf(buf, len, "%s: the SYN never left this host: no route to %s", verdict, addr);
        break;
    case REP_CAUSE_NEIGHBOUR_FAILED:
        snprintf(buf, len,
                 "%s: the SYN never left this host: the next hop's link-layer address did not "
                 "resolve (`ip neigh`)",
                 verdict);
        break;
    default:
        snprintf(buf, len, "%s: %s", verdict,
                 rep_host_kernel_reason(a, h) != NULL ? "the kernel says why"
                                                      : "this host's kernel did not say why");
        break;
    }
    append_kernel(buf, len, a, h);
}
