#ifndef UCPSIM_CLIBCURL_SHIM_H
#define UCPSIM_CLIBCURL_SHIM_H

#include <curl/curl.h>

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

#endif
