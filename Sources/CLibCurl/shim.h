#ifndef UCPSIM_CLIBCURL_SHIM_H
#define UCPSIM_CLIBCURL_SHIM_H

#include <curl/curl.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

/* Swift cannot call C variadic functions: one typed wrapper per argument kind. */

static inline CURLcode ucpsim_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ucpsim_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ucpsim_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ucpsim_curl_easy_setopt_slist(CURL *handle, CURLoption option, struct curl_slist *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ucpsim_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

typedef size_t (*ucpsim_curl_write_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);

static inline CURLcode ucpsim_curl_easy_setopt_write_function(CURL *handle, CURLoption option,
                                                             ucpsim_curl_write_callback value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode ucpsim_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ucpsim_curl_easy_getinfo_double(CURL *handle, CURLINFO info, double *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode ucpsim_curl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode ucpsim_curl_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

/* Opening sockets ourselves lets a caller see, and refuse, the very address curl is about to connect to. */
typedef curl_socket_t (*ucpsim_curl_opensocket_callback)(void *clientp, curlsocktype purpose,
                                                          struct curl_sockaddr *address);

static inline CURLcode ucpsim_curl_easy_setopt_opensocket_function(CURL *handle,
                                                                  ucpsim_curl_opensocket_callback value) {
    return curl_easy_setopt(handle, CURLOPT_OPENSOCKETFUNCTION, value);
}

/* Copies the IP address of `address` (4 bytes for IPv4, 16 for IPv6) into `bytes` and its port into `port`;
   returns the byte count, 0 for any other family. curl allocates room for the whole sockaddr behind `addr`. */
static inline int ucpsim_curl_sockaddr_ip(const struct curl_sockaddr *address, unsigned char *bytes, int *port) {
    if (address->family == AF_INET && address->addrlen >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)&address->addr;
        memcpy(bytes, &in->sin_addr, 4);
        *port = ntohs(in->sin_port);
        return 4;
    }
    if (address->family == AF_INET6 && address->addrlen >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)&address->addr;
        memcpy(bytes, &in6->sin6_addr, 16);
        *port = ntohs(in6->sin6_port);
        return 16;
    }
    return 0;
}

/* What curl's own open-socket step does. */
static inline curl_socket_t ucpsim_curl_open_socket(const struct curl_sockaddr *address) {
    return socket(address->family, address->socktype, address->protocol);
}

static inline curl_socket_t ucpsim_curl_socket_bad(void) { return CURL_SOCKET_BAD; }

#endif
