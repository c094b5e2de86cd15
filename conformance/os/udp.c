// udp: a reader blocked in epoll_wait, woken by a loopback datagram from another process
// that keeps running (docs/conformance.md, the server arm). The sender, every PER us,
// sends the time and spins SPIN us; the receiver records send-to-read delay and spins RSPIN
// us after each. Prints the delay's P50/P90/P99 and the sendto and recv costs.
// Build and run: gcc -O2 -o udp udp.c && ./udp SPIN N PER [RSPIN]
// e.g. ./udp 100 2000 1000 500
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/wait.h>
static inline long now_ns(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1000000000L+t.tv_nsec;}
int cmp(const void*a,const void*b){long x=*(long*)a,y=*(long*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){
  long SPIN=atol(argv[1]), N=atol(argv[2]), PER=atol(argv[3]); int RSPIN=argc>4?atoi(argv[4]):0;
  int rs=socket(AF_INET,SOCK_DGRAM,0); struct sockaddr_in a={0}; a.sin_family=AF_INET; a.sin_addr.s_addr=htonl(0x7f000001); a.sin_port=0;
  bind(rs,(void*)&a,sizeof a); socklen_t l=sizeof a; getsockname(rs,(void*)&a,&l);
  pid_t pid=fork();
  if(pid==0){ // sender
    int ss=socket(AF_INET,SOCK_DGRAM,0); usleep(50000); long *sc=malloc(N*sizeof(long)); long next=now_ns();
    for(long i=0;i<N;i++){ next+=PER*1000; struct timespec d={next/1000000000L,next%1000000000L}; clock_nanosleep(CLOCK_MONOTONIC,TIMER_ABSTIME,&d,0);
      long t=now_ns(); sendto(ss,&t,8,0,(void*)&a,sizeof a); long t2=now_ns(); sc[i]=t2-t; long e=now_ns()+SPIN*1000; while(now_ns()<e); }
    qsort(sc,N,sizeof(long),cmp); fprintf(stderr,"sendto cost p50 %.1f p90 %.1f p99 %.1f us\n",sc[N/2]/1e3,sc[N*9/10]/1e3,sc[N*99/100]/1e3);
    long t=-1; sendto(ss,&t,8,0,(void*)&a,sizeof a); exit(0);
  }
  int ep=epoll_create1(0); struct epoll_event ev={.events=EPOLLIN,.data.fd=rs}; epoll_ctl(ep,EPOLL_CTL_ADD,rs,&ev);
  long *lat=malloc(N*sizeof(long)); long n=0;
  long *rc=malloc((N+1)*sizeof(long));
  for(;;){ struct epoll_event e; epoll_wait(ep,&e,1,-1); long t; long r0=now_ns(); recv(rs,&t,8,0); rc[n]=now_ns()-r0; if(t<0)break; long now=now_ns(); lat[n++]=now-t;
    if(RSPIN){long e2=now_ns()+RSPIN*1000; while(now_ns()<e2);} }
  wait(0); qsort(lat,n,sizeof(long),cmp); qsort(rc,n,sizeof(long),cmp); fprintf(stderr,"recv cost p50 %.1f p99 %.1f us\n",rc[n/2]/1e3,rc[n*99/100]/1e3);
  printf("sender spins %ld after send every %ld us; receiver spins %d: recv lat p50 %ld p90 %ld p99 %ld us (n %ld)\n",SPIN,PER,RSPIN,lat[n/2]/1000,lat[n*9/10]/1000,lat[n*99/100]/1000,n);
}
